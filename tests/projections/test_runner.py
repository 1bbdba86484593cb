"""The projection runner against a real stream: catch up, follow, resume, rebuild byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

from claude_tunnels.events.base import Event
from claude_tunnels.projections import ProjectionRunner, RequestsView, SessionsView, TaskLog, rebuild
from claude_tunnels.tunnels.bus import EventStore
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"


def story(ev: Events, rid: str, text: str) -> list[Event]:
    return [
        ev.message(KEY, text), ev.opened(KEY, rid, text), ev.routed(KEY, rid, ["shared"]),
        ev.proposed(KEY, rid, two_phase_plan()), ev.asked(KEY, rid), ev.approved(KEY, rid),
        ev.phase(KEY, rid, 1, ["shared/core"]), ev.dispatched(KEY, rid, "shared/core"),
        ev.started(KEY, rid, "shared/core"), ev.succeeded(KEY, rid, "shared/core"), ev.completed(KEY, rid),
    ]


def views(state: Path) -> tuple[SessionsView, RequestsView, TaskLog]:
    return (
        SessionsView(state / "sessions.sqlite"),
        RequestsView(state / "requests.sqlite"),
        TaskLog(state / ".tasks", state / "task_log.json"),
    )


async def test_catches_up_follows_live_and_waits_for_a_position(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for event in story(ev, "01REQ00000000000000000001", "first"):
        await store.append(event)
    sessions, requests, log = views(tmp_path)
    async with ProjectionRunner(store, [sessions, requests, log]) as runner:
        assert runner.position == 11 and requests.get("01REQ00000000000000000001").status == "completed"  # type: ignore[union-attr]
        appended = await store.append(ev.opened(KEY, "01REQ00000000000000000002", "second"))
        await runner.wait(appended.seq)
        assert sessions.get(KEY).status == "planning"
        assert sessions.get(KEY).last_seq == appended.seq
    assert len(list((tmp_path / ".tasks").rglob("*.md"))) == 2  # the first, under both projects its plan touches


async def test_resumes_from_its_checkpoint_and_never_applies_an_event_twice(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for event in story(ev, "01REQ00000000000000000001", "first"):
        await store.append(event)
    async with ProjectionRunner(store, views(tmp_path)):
        pass
    for event in story(ev, "01REQ00000000000000000002", "second"):
        await store.append(event)
    sessions, requests, log = views(tmp_path)
    applied: list[int] = []
    original = sessions._apply
    sessions._apply = lambda seq, event: (applied.append(seq), original(seq, event))  # type: ignore[method-assign]
    async with ProjectionRunner(store, [sessions, requests, log]) as runner:
        assert runner.position == 22
        runner._apply(5, story(Events(), "x", "redelivered")[0])  # a redelivery of an old position
    assert applied == list(range(12, 23))
    refolded = SessionsView()
    await rebuild(store, [refolded])  # nothing lost, nothing doubled: the same as folding it all again
    assert sessions.sessions == refolded.sessions and len(requests.requests) == 2


async def test_dropping_and_rebuilding_gives_byte_identical_output(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for n in range(3):
        for event in story(ev, f"01REQ0000000000000000000{n}", f"request {n} / with a slash"):
            await store.append(event)
    live = tmp_path / "live"
    async with ProjectionRunner(store, views(live)):
        pass
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(live, rebuilt)
    (rebuilt / "sessions.sqlite").write_text("garbage that a rebuild must drop")
    await rebuild(store, views(rebuilt))

    def all_files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    # The outputs byte for byte; the SQLite checkpoints by what they hold (their pages depend on
    # the order of the writes, not on the state).
    assert all_files(live / ".tasks") == all_files(rebuilt / ".tasks")
    assert (live / "task_log.json").read_bytes() == (rebuilt / "task_log.json").read_bytes()
    for left, right in zip(views(live), views(rebuilt), strict=True):
        left.load()
        right.load()
        assert left.position == right.position == 33 and left._state() == right._state()
    assert len(list((live / ".tasks").rglob("*.md"))) == 6  # three requests, each under its two projects
