"""The orchestrator's judgement of remote agents: lost after `remote.lost_after_s` of silence (on a manual
clock, without waiting); reports cut to size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec

from claude_tunnels.actors.ports import Failed, TaskEnd, TaskOrder
from claude_tunnels.config.loader import load_settings
from claude_tunnels.projections import RequestsView
from claude_tunnels.remote_agent.protocol import Finished, Presence, kv_key
from claude_tunnels.tunnels.runtime.remote import InFlight, RemoteWorkspaces, silent_tasks
from tests.clocks import ManualClock
from tests.factories import T0, Events

LOST_AFTER_S = 10.0
REPORTS_ENCODER = msgspec.json.Encoder()
EDGE, OTHER = "edge/worker", "edge/other"


class _NoHandle:
    """The lost-agent decision reads no handle: a stand-in that fails if one is used."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"silent_tasks used the handle ({name})")


def flight(workspace: str, since: float) -> InFlight:
    return InFlight(Events().dispatched("s", "r1", workspace), _NoHandle(), since)  # type: ignore[arg-type]


def seen(workspace: str, at: float) -> tuple[Presence, float]:
    presence = Presence(workspace=workspace, agent_id="a1", host="h", version="0", heartbeat_at=at)
    return presence, at


def test_a_task_is_lost_only_after_the_configured_silence() -> None:
    in_flight = {"t1": flight(EDGE, since=90.0)}
    presences = {EDGE: seen(EDGE, 100.0)}  # the last heartbeat, after the dispatch
    assert silent_tasks(in_flight, presences, 100.0 + LOST_AFTER_S, LOST_AFTER_S) == []
    assert silent_tasks(in_flight, presences, 100.0 + LOST_AFTER_S + 0.01, LOST_AFTER_S) == ["t1"]


def test_silence_counts_from_the_dispatch_when_the_heartbeat_is_older() -> None:
    in_flight = {"t1": flight(EDGE, since=200.0)}
    presences = {EDGE: seen(EDGE, 100.0)}
    assert silent_tasks(in_flight, presences, 200.0 + LOST_AFTER_S, LOST_AFTER_S) == []
    assert silent_tasks(in_flight, presences, 200.0 + LOST_AFTER_S + 0.01, LOST_AFTER_S) == ["t1"]


def test_each_workspace_is_judged_by_its_own_agent() -> None:
    in_flight = {"t1": flight(EDGE, since=0.0), "t2": flight(OTHER, since=0.0)}
    presences = {EDGE: seen(EDGE, 50.0)}  # OTHER's agent never announced itself (or its key was deleted)
    assert silent_tasks(in_flight, presences, 55.0, LOST_AFTER_S) == ["t2"]
    assert silent_tasks(in_flight, presences, 61.0, LOST_AFTER_S) == ["t1", "t2"]


def test_what_a_remote_agent_reports_is_cut_to_size_before_it_is_recorded() -> None:
    from claude_tunnels.actors.envelopes import task_envelope
    from claude_tunnels.actors.task_recorder import end_event
    from claude_tunnels.events.execution import WorkspaceTaskFailed, WorkspaceTaskSucceeded
    from claude_tunnels.events.values import SUMMARY_CHARS, TaskResult
    from claude_tunnels.remote_agent.protocol import Finished
    from claude_tunnels.tunnels.runtime.remote import finished_end
    from tests.clocks import SequentialIds

    clock = ManualClock(Events().clock.now())
    envelope = task_envelope(Events().dispatched("s", "r1", EDGE), clock, SequentialIds(clock))
    huge = Finished(task_id="t1", outcome="succeeded", result=TaskResult(summary="s" * 1_000_000))
    succeeded = end_event(finished_end(huge), envelope)
    assert isinstance(succeeded, WorkspaceTaskSucceeded) and len(succeeded.result.summary) == SUMMARY_CHARS
    failed = end_event(finished_end(Finished(task_id="t1", outcome="failed", error="e" * 1_000_000)), envelope)
    assert isinstance(failed, WorkspaceTaskFailed) and len(failed.error) == 1000


# -- the watchdog, on a manual clock ------------------------------------------------------------


class _Bus:
    """The `WorkspaceBus` calls `RemoteWorkspaces` makes, answered at once; it hands presences in."""

    def __init__(self) -> None:
        self.on_presence: Callable[[str, Presence | None], None] | None = None
        self.sent: list[str] = []

    async def start(self, on_presence: Callable[[str, Presence | None], None], on_report: object) -> None:
        self.on_presence = on_presence

    async def stop(self) -> None: ...

    async def ensure_consumer(self, workspace: str) -> None: ...

    async def send_task(self, workspace: str, task_id: str, command: object) -> None:
        self.sent.append(task_id)

    def beat(self, workspace: str) -> None:
        """The workspace's agent writes its presence (a heartbeat), and the KV watch delivers it."""
        assert self.on_presence is not None
        self.on_presence(kv_key(workspace), Presence(workspace=workspace, agent_id="a1", host="h", version="0", heartbeat_at=0.0))


class _Handle:
    """A task handle that only hears the end."""

    def __init__(self) -> None:
        self.ended: asyncio.Future[TaskEnd] = asyncio.get_running_loop().create_future()

    async def finish(self, end: TaskEnd) -> None:
        self.ended.set_result(end)


@asynccontextmanager
async def watching(tmp_path: Path, clock: ManualClock, bus: _Bus) -> AsyncIterator[RemoteWorkspaces]:
    """`RemoteWorkspaces` on `bus` and a manual clock, started (an empty requests view), stopped after."""
    remote = RemoteWorkspaces(
        bus, RequestsView(), load_settings(root=tmp_path), lost_after_s=LOST_AFTER_S,  # type: ignore[arg-type]
        timers=clock, monotonic=clock.monotonic,
    )
    await remote.start()
    try:
        yield remote
    finally:
        await remote.stop()


async def dispatch(remote: RemoteWorkspaces, bus: _Bus, handle: _Handle) -> str:
    """A task of EDGE (whose agent is present) handed to its agent; its id."""
    bus.beat(EDGE)
    dispatched = Events().dispatched("s", "r1", EDGE)
    await remote.execute(TaskOrder(dispatched, "prompt", "instructions"), handle)  # type: ignore[arg-type]
    return dispatched.task_id


async def test_a_silent_agent_is_lost_when_the_manual_clock_passes_lost_after_s_and_heartbeats_keep_it_alive(tmp_path: Path) -> None:
    clock, bus, handle = ManualClock(T0), _Bus(), _Handle()
    async with watching(tmp_path, clock, bus) as remote:
        task_id = await dispatch(remote, bus, handle)
        assert bus.sent == [task_id]
        clock.advance(LOST_AFTER_S - 1)
        bus.beat(EDGE)  # a heartbeat: the silence starts again
        clock.advance(LOST_AFTER_S)  # exactly `lost_after_s` of silence: not lost yet
        assert task_id in remote.in_flight and not handle.ended.done() and EDGE in remote.live()
        clock.advance(1)  # the watchdog's next check (every min(1 s, lost_after_s / 4))
        assert task_id not in remote.in_flight and EDGE not in remote.live()
        end = await asyncio.wait_for(handle.ended, 10)
        assert end == Failed(f"agent lost: no heartbeat from a1 for {LOST_AFTER_S:g} s")
    assert clock.pending() == []  # the watchdog stopped checking


async def test_a_workspace_whose_agent_went_away_is_named_offline_with_when_it_was_last_seen(tmp_path: Path) -> None:
    clock, bus = ManualClock(T0), _Bus()
    remote = RemoteWorkspaces(
        bus, RequestsView(), load_settings(root=tmp_path), lost_after_s=LOST_AFTER_S,  # type: ignore[arg-type]
        timers=clock, monotonic=clock.monotonic, clock=clock,
    )
    await remote.start()
    try:
        assert remote.offline(EDGE) is None  # never seen: unknown, not offline
        bus.beat(EDGE)
        assert remote.offline(EDGE) is None  # live
        clock.advance(5 * 60)
        assert EDGE not in remote.live()
        assert remote.offline(EDGE) == f"{EDGE} is served by a remote agent that is offline (last seen 09:30 UTC, 5 min ago)"
        assert bus.on_presence is not None
        bus.on_presence(kv_key(EDGE), None)  # its presence key deleted (the agent left): still named
        assert remote.offline(EDGE) is not None and "offline" in (remote.offline(EDGE) or "")
        bus.beat(EDGE)  # back
        assert remote.offline(EDGE) is None
    finally:
        await remote.stop()


async def test_a_task_for_a_workspace_whose_agent_went_offline_fails_naming_it_offline(tmp_path: Path) -> None:
    from claude_tunnels.tunnels.agents import LocalExecutor, SessionSettings
    from claude_tunnels.tunnels.tree_source import DiskTree

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "CLAUDE.md").write_text("# web\n")
    loaded = load_settings(root=tmp_path)
    clock, bus, handle = ManualClock(T0), _Bus(), _Handle()
    remote = RemoteWorkspaces(
        bus, RequestsView(), loaded, lost_after_s=LOST_AFTER_S,  # type: ignore[arg-type]
        timers=clock, monotonic=clock.monotonic, clock=clock,
    )
    await remote.start()
    try:
        bus.beat(EDGE)
        clock.advance(90)  # the agent stopped beating before its phase came
        executor = LocalExecutor(SessionSettings(loaded, {}), DiskTree(loaded, remote), places=None)  # type: ignore[arg-type]
        await executor.execute(TaskOrder(Events().dispatched("s", "r1", EDGE), "prompt", "instructions"), handle)  # type: ignore[arg-type]
        end = await asyncio.wait_for(handle.ended, 10)
        assert end == Failed(f"{EDGE} is served by a remote agent that is offline (last seen 09:30 UTC, 1 min ago)")
    finally:
        await remote.stop()


async def test_a_retried_report_of_an_ended_task_is_acknowledged_though_its_request_left_memory(tmp_path: Path) -> None:
    clock, bus, handle = ManualClock(T0), _Bus(), _Handle()
    # `watching` gives an empty requests view: the task's request is not in memory (it left once settled).
    async with watching(tmp_path, clock, bus) as remote:
        task_id = await dispatch(remote, bus, handle)
        finished = REPORTS_ENCODER.encode(Finished(task_id=task_id, outcome="failed", error="boom"))
        assert await remote._on_report(EDGE, finished) == b"ok"
        assert await asyncio.wait_for(handle.ended, 10) == Failed("boom")
        assert await remote._on_report(EDGE, finished) == b"ok"  # the agent did not hear the first answer
        stranger = REPORTS_ENCODER.encode(Finished(task_id="never-dispatched", outcome="failed", error="x"))
        assert await remote._on_report(EDGE, stranger) == b"error: unknown task"
