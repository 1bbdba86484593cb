"""When the event bus is away: tell the people waiting, and pick up where it left off once it is back.

While the connection is down nothing can be recorded (appends wait for it, `tunnels.bus.store`),
so this is told straight through the chat channels, not as an event: once the bus has been away
for `nats.outage_notice_s`, each conversation with a request open hears that work is paused, and
hears again when it goes on. When the connection returns, the remote workspaces' heartbeats are
counted from then (`RemoteWorkspaces.bus_returned`), so no agent is taken for lost because the
bus, not the agent, was away.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.ports import Cancellable, Timers
from claude_tunnels.events.ids import Clock
from claude_tunnels.projections import SessionsView

log = logging.getLogger(__name__)

_WAITING = frozenset({"planning", "pending_confirmation", "pending_plan_approval", "executing"})


class OutageNotice:
    """Listens to the bus's health (`BusHealth.listen(notice.changed)`)."""

    def __init__(
        self, *, after_s: float, timers: Timers, clock: Clock, sessions: SessionsView, channels: Callable[[], Sequence[Any]],
        background: Background, on_return: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.after_s = after_s
        self._timers = timers
        self._clock = clock
        self._sessions = sessions
        self._channels = channels
        self._background = background
        self._on_return = on_return
        self._due: Cancellable | None = None
        self.told: list[str] = []
        """The conversations told of the current outage (told again when it ends)."""

    def changed(self, up: bool) -> None:
        """The connection went down (`up` False) or came back."""
        if not up:
            if self._due is None:
                self._due = self._timers.call_after(self.after_s, self._tell_down)
            return
        if self._due is not None:
            self._due.cancel()
            self._due = None
        if self._on_return is not None:
            self._background.start(self._on_return(), name="bus returned")
        told, self.told = self.told, []
        if told:
            log.warning("the event store is reachable again; telling %d conversation(s)", len(told))
            self._tell(told, "The orchestrator reaches its event store again: work goes on.")

    def _tell_down(self) -> None:
        self._due = None
        since = self._clock.now() - timedelta(seconds=self.after_s)
        keys = [key for key, state in self._sessions.sessions.items() if state.status in _WAITING]
        log.error("the event store has been unreachable for %g s; telling %d conversation(s)", self.after_s, len(keys))
        self.told = keys
        self._tell(keys, (
            f"The orchestrator has not reached its event store for {self.after_s:g} s (since about "
            f"{since:%H:%M} UTC): work is paused and goes on once it is back; nothing is lost."
        ))

    def _tell(self, keys: Sequence[str], text: str) -> None:
        for channel in self._channels():
            notify = getattr(channel, "notify", None)
            if notify is None:
                continue
            for key in keys:
                if channel.owns(key):
                    self._background.start(_best_effort(notify(key, text), channel.name), name=f"{channel.name} outage note")


async def _best_effort(note: Awaitable[None], channel: str) -> None:
    try:
        await note
    except Exception:  # a note the chat refused is only logged: the outcome itself is recorded and posted later
        log.exception("%s: could not post the event store's outage note", channel)
