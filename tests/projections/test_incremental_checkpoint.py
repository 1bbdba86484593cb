"""Keyed checkpoints against a real stream: written by difference on the checkpoint thread, and a
runner dropped without stopping is resumed from them to the state a full rebuild gives."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from claude_tunnels.events.base import Event
from claude_tunnels.projections import ProjectionRunner, RequestsView, SessionsView, rebuild
from claude_tunnels.projections.base import KeyedProjection
from claude_tunnels.projections.records import RecordFile
from claude_tunnels.tunnels.bus import EventStore
from tests.factories import Events, two_phase_plan


def story(ev: Events, key: str, rid: str) -> list[Event]:
    return [
        ev.message(key, rid), ev.opened(key, rid, f"request {rid}"), ev.routed(key, rid, ["shared"]),
        ev.proposed(key, rid, two_phase_plan()), ev.asked(key, rid), ev.approved(key, rid),
        ev.phase(key, rid, 1, ["shared/core"]), ev.dispatched(key, rid, "shared/core"),
        ev.started(key, rid, "shared/core"), ev.succeeded(key, rid, "shared/core"), ev.completed(key, rid),
    ]


class RecordingFile(RecordFile):
    """The real SQLite file, noting which thread wrote which keys (and failing when told to)."""

    def __init__(self, path: Path, fail: int = 0) -> None:
        super().__init__(path)
        self.writes: list[tuple[int, set[str], bool]] = []
        self.fail = fail

    def write(
        self, position: int, changed: Mapping[str, bytes], removed: Iterable[str] = (), *,
        whole: bool = False, settled: Collection[str] = (),
    ) -> None:
        self.writes.append((threading.get_ident(), set(changed), whole))
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        super().write(position, changed, removed, whole=whole, settled=settled)


def recording(view: KeyedProjection, fail: int = 0) -> RecordingFile:
    assert view._file is not None
    view._file = file = RecordingFile(view._file.path, fail)
    return file


async def checkpoint(runner: ProjectionRunner) -> None:
    runner._write_checkpoint()
    assert runner._writing is not None
    await runner._writing


async def test_a_dropped_runner_is_resumed_from_its_checkpoint_to_the_state_of_a_full_rebuild(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for n in range(3):
        for event in story(ev, f"terminal:user{n}", f"01REQA{n:020d}"):
            await store.append(event)
    sessions, requests = SessionsView(tmp_path / "sessions.sqlite"), RequestsView(tmp_path / "requests.sqlite")
    files = recording(sessions), recording(requests)
    runner = ProjectionRunner(store, [sessions, requests], checkpoint_interval_s=3600)
    await runner.start()  # catches up and writes its first checkpoint (every record)
    assert runner._writing is not None
    await runner._writing
    for n in range(2):  # more requests and one more event for an old one, then a checkpoint
        for event in story(ev, f"terminal:user{n}", f"01REQB{n:020d}"):
            last = await store.append(event)
    await runner.wait(last.seq)
    await checkpoint(runner)
    checkpointed = runner.position
    for event in story(ev, "terminal:late", "01REQC00000000000000000000"):  # after the last checkpoint
        last = await store.append(event)
    await runner.wait(last.seq)
    # The crash: the runner stops following and never writes another checkpoint.
    await runner._sub.unsubscribe()
    assert runner._writer is not None
    runner._writer.shutdown()

    loop_thread = threading.get_ident()
    for file in files:
        assert [whole for _, _, whole in file.writes] == [True, False]  # the whole once, then the difference
        assert all(thread != loop_thread for thread, _, _ in file.writes)  # never on the event loop
    assert files[1].writes[1][1] == {"01REQB00000000000000000000", "01REQB00000000000000000001"}
    assert files[0].writes[1][1] == {"terminal:user0", "terminal:user1"}

    resumed_sessions, resumed_requests = SessionsView(tmp_path / "sessions.sqlite"), RequestsView(tmp_path / "requests.sqlite")
    applied: list[int] = []
    original = resumed_requests._apply
    resumed_requests._apply = lambda seq, event: (applied.append(seq), original(seq, event))  # type: ignore[method-assign]
    async with ProjectionRunner(store, [resumed_sessions, resumed_requests]) as resumed:
        assert resumed.position == last.seq
    assert applied == list(range(checkpointed + 1, last.seq + 1))  # from the checkpoint on, not the whole stream

    full_sessions, full_requests = SessionsView(), RequestsView()
    await rebuild(store, [full_sessions, full_requests])
    assert resumed_sessions.sessions == full_sessions.sessions and len(full_sessions.sessions) == 4
    assert resumed_requests.requests == full_requests.requests and len(full_requests.requests) == 6


async def test_a_failed_checkpoint_write_is_made_up_by_writing_its_records_again_next_time(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for event in story(ev, "terminal:alice", "01REQA00000000000000000000"):
        await store.append(event)
    requests = RequestsView(tmp_path / "requests.sqlite")
    file = recording(requests)
    async with ProjectionRunner(store, [requests], checkpoint_interval_s=3600) as runner:
        assert runner._writing is not None
        await runner._writing
        file.fail = 1
        for event in story(ev, "terminal:alice", "01REQB00000000000000000000"):
            last = await store.append(event)
        await runner.wait(last.seq)
        await checkpoint(runner)  # fails: rolled back, the first checkpoint stays
        probe = RequestsView(tmp_path / "requests.sqlite")
        probe.load()
        assert probe.position == 11 and list(probe.requests) == ["01REQA00000000000000000000"]
    assert [(keys, whole) for _, keys, whole in file.writes][1:] == [
        ({"01REQB00000000000000000000"}, False),
        ({"01REQB00000000000000000000"}, False),  # the exit's checkpoint: what the failed one lacked
    ]
    stored = RequestsView(tmp_path / "requests.sqlite")
    stored.load()
    assert stored.position == last.seq and stored.requests == requests.requests
