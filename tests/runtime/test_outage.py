"""The event bus away: the people with a request open are told once it has been away for
`nats.outage_notice_s`, and told again when it is back; a short blip tells no one. On a manual clock."""

from __future__ import annotations

import asyncio

from claude_tunnels.actors.background import Background
from claude_tunnels.projections import SessionsView
from claude_tunnels.tunnels.runtime.outage import OutageNotice
from tests.clocks import ManualClock
from tests.factories import T0, Events, two_phase_plan


class Chat:
    """A channel as the notice sees one: it owns `telegram:` conversations and keeps what it is told."""

    name = "telegram"

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    def owns(self, key: str) -> bool:
        return key.startswith("telegram:")

    async def notify(self, key: str, text: str) -> None:
        self.told.append((key, text))


async def test_people_waiting_are_told_when_the_bus_stays_away_and_when_it_is_back() -> None:
    ev, sessions = Events(), SessionsView()
    busy, idle, elsewhere = "telegram:1", "telegram:2", "slack:T:C"
    for seq, event in enumerate([
        ev.message(busy, "in shared: bump"), ev.opened(busy, "R1", "in shared: bump"), ev.routed(busy, "R1", ["shared"]),
        ev.proposed(busy, "R1", two_phase_plan()), ev.approved(busy, "R1"), ev.message(idle, "hello"),
        ev.opened(elsewhere, "R2", "in web: x"),
    ], start=1):
        sessions.apply(seq, event)
    clock, chat, background = ManualClock(T0), Chat(), Background("test")
    background.attach(asyncio.get_running_loop())
    returned: list[bool] = []

    async def on_return() -> None:
        returned.append(True)

    notice = OutageNotice(after_s=30, timers=clock, clock=clock, sessions=sessions, channels=lambda: [chat],
                          background=background, on_return=on_return)

    async def settled() -> None:
        await asyncio.gather(*background.running)

    notice.changed(False)
    clock.advance(29)
    notice.changed(True)  # a blip: nobody hears of it
    await settled()
    assert chat.told == [] and returned == [True]

    notice.changed(False)
    clock.advance(30)
    await settled()
    [(key, text)] = chat.told
    assert key == busy and "not reached its event store for 30 s" in text  # Slack's conversation is not this chat's
    notice.changed(True)
    await settled()
    assert chat.told[-1] == (busy, "The orchestrator reaches its event store again: work goes on.") and len(chat.told) == 2
    await background.aclose()
