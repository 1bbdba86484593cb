"""A whole orchestrator behind the real aiogram and FakeTelegram: sample tree, scripted model, Telegram channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiogram.utils.backoff import BackoffConfig

from claude_tunnels.channels.telegram import TelegramChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.world import BASE_LIMITS
from tests.fakes.telegram import FakeTelegram

E = TypeVar("E")

ALICE, BOB, MALLORY = 5550001, 5550002, 6660666  # private chat id == user id
GROUP, TOPIC = -1001234567890, 7
FAST = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.0)
NO_SCRIPTS = json.dumps({"scripts": []})


@dataclass
class TgWorld:
    """What a test drives (the fake Bot API) and inspects (events, the fake's record)."""

    root: Path
    fake: FakeTelegram
    model: ScriptedModelServer
    orchestrator: Orchestrator
    channel: TelegramChannel
    seen: list[AnyEvent] = field(default_factory=list)
    _watchers: list[tuple[Callable[[AnyEvent], bool], asyncio.Future[AnyEvent]]] = field(default_factory=list)

    def on_event(self, seq: int, event: AnyEvent) -> None:
        self.seen.append(event)
        for predicate, future in list(self._watchers):
            if not future.done() and predicate(event):
                future.set_result(event)

    async def wait_event(self, kind: type[E] | tuple[type, ...], timeout: float = 60) -> E:
        """The first event of `kind` (already seen, or still to come)."""
        for event in self.seen:
            if isinstance(event, kind):
                return event  # type: ignore[return-value]
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (lambda event: isinstance(event, kind), future)
        self._watchers.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)  # type: ignore[no-any-return]
        finally:
            self._watchers.remove(entry)

    async def wait_until(self, predicate: Callable[[AnyEvent], bool], timeout: float = 60) -> AnyEvent:
        """The first event matching `predicate` (already seen, or still to come)."""
        for event in self.seen:
            if predicate(event):
                return event
        future: asyncio.Future[AnyEvent] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._watchers.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._watchers.remove(entry)

    async def stored(self, kind: type[E]) -> list[E]:
        """Every stored event of one type, read back from the event stream."""
        return [s.event for s in await self.orchestrator.store.read() if isinstance(s.event, kind)]  # type: ignore[misc]


def write_settings(root: Path, api_url: str, telegram: dict[str, Any] | None = None, **extra: Any) -> Path:
    """`orchestrator.yaml` with the Telegram channel on (Alice and Bob allowed) pointing at `api_url`."""
    channel = {"enabled": True, "allowed_users": [ALICE, BOB], "api_url": api_url, **(telegram or {})}
    document = {"claude": {"isolate_home": True}, "limits": BASE_LIMITS, "channels": {"telegram": channel}, **extra}
    path = root / "orchestrator.yaml"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@asynccontextmanager
async def telegram_world(
    tmp_path: Path, scenario: str = NO_SCRIPTS, *, telegram: dict[str, Any] | None = None, start: bool = True,
    **extra: Any,
) -> AsyncIterator[TgWorld]:
    """Run FakeTelegram, the scripted model, an orchestrator on the sample tree and a started channel."""
    root = lay_out(tmp_path / "tree")
    async with FakeTelegram() as fake:
        loaded = load_settings(write_settings(root, fake.base_url, telegram, **extra))
        async with ScriptedModelServer(parse_scenario(scenario)) as model, \
                Orchestrator(loaded, agent_env=model.env()) as orchestrator:
            channel = TelegramChannel(
                orchestrator, loaded.settings.channels.telegram, token=fake.token,
                approvers=loaded.settings.approvers, polling_timeout=1, backoff=FAST,
            )
            world = TgWorld(root, fake, model, orchestrator, channel)
            orchestrator.add_listener(world.on_event)
            try:
                if start:
                    await channel.start()
                yield world
            finally:
                await channel.stop()
