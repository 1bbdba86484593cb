"""A whole orchestrator for end-to-end tests: sample tree, scripted model, terminal channel."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.clocks import ManualClock

BASE_LIMITS = {"progress_interval_s": 0.1, "task_timeout_s": 60}


@dataclass
class World:
    """What a test drives and inspects."""

    root: Path
    orchestrator: Orchestrator
    model: ScriptedModelServer
    terminal: TerminalChannel
    out: io.StringIO

    async def ask(self, text: str, until: Callable[[AnyEvent], bool], timeout: float = 120) -> AnyEvent:
        """Say `text` and wait for the first event matching `until`."""
        future = self.terminal.watch(until)
        await self.terminal.say(text)
        return await _wait(future, timeout)

    async def run_to_end(self, text: str, timeout: float = 180) -> AnyEvent:
        """Say `text` and wait until a request of this session ends."""
        return await self.ask(text, lambda e: isinstance(e, REQUEST_ENDED), timeout)

    async def post_as(self, sender: str, text: str) -> None:
        """Someone else writes in the same conversation (as in a shared Slack thread)."""
        self.terminal._count += 1
        await self.orchestrator.post_message(
            session_key=self.terminal.session_key, channel="terminal", sender=sender, text=text,
            message_ref=f"{sender}-{self.terminal._count}",
        )

    def of_type(self, cls: type) -> list[AnyEvent]:
        """The session's events of one type, in order."""
        return [event for event in self.terminal.events if isinstance(event, cls)]


async def _wait(future: object, timeout: float) -> AnyEvent:
    import asyncio

    return await asyncio.wait_for(future, timeout)  # type: ignore[arg-type]


@asynccontextmanager
async def world(
    tmp_path: Path, scenario: str, *, limits: dict[str, float] | None = None, settings: dict[str, object] | None = None,
    user: str = "alice", clock: ManualClock | None = None,
) -> AsyncIterator[World]:
    """Lay out the sample tree under `tmp_path/tree` and run an orchestrator on it. With `clock`,
    its time is that manual clock's: the wall clock, the timers (expiries, the heartbeat watchdog)
    and the monotonic source; otherwise the real ones."""
    root = lay_out(tmp_path / "tree")
    document = {"claude": {"isolate_home": True}, "limits": {**BASE_LIMITS, **(limits or {})}, **(settings or {})}
    (root / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(parse_scenario(scenario)) as model:
        monotonic = clock.monotonic if clock is not None else None
        async with Orchestrator(loaded, agent_env=model.env(), clock=clock, timers=clock, monotonic=monotonic) as orchestrator:
            out = io.StringIO()
            yield World(root, orchestrator, model, TerminalChannel(orchestrator, user, out=out), out)
