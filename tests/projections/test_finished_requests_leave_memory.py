"""Finished requests leave memory once stored: the requests view keeps the open ones and a few
recent ones, answers for the others from its checkpoint file, and takes one back when an event
comes for it, always agreeing with a full rebuild of the stream."""

from __future__ import annotations

from pathlib import Path

from msgspec.structs import replace

from claude_tunnels.events.base import Event
from claude_tunnels.events.changes import ChangesDecided, ChangesMerged, ChangesProposed, RepoChanges
from claude_tunnels.projections import ProjectionRunner, RequestsView, rebuild
from claude_tunnels.tunnels.bus import EventStore
from tests.factories import Events, two_phase_plan
from tests.projections.test_incremental_checkpoint import checkpoint, recording, story


def rid(n: int) -> str:
    return f"01REQ{n:021d}"


def waiting(ev: Events, key: str, request_id: str) -> list[Event]:
    """A request whose plan waits for approval (open)."""
    return [ev.message(key, request_id), ev.opened(key, request_id, f"request {request_id}"), ev.routed(key, request_id, ["shared"]),
            ev.proposed(key, request_id, two_phase_plan()), ev.asked(key, request_id)]


def proposal(ev: Events, key: str, request_id: str) -> ChangesProposed:
    branch = RepoChanges(repo="shared", branch=f"tunnels/{request_id}-result", base="a" * 40, head="b" * 40)
    return ChangesProposed(**ev.envelope(key, request_id=request_id), repos=[branch])


async def append_all(store: EventStore, events: list[Event]) -> int:
    last = 0
    for event in events:
        last = (await store.append(event)).seq
    return last


async def written(runner: ProjectionRunner) -> None:
    """Wait for the checkpoint write under way, if one is (it may have ended already)."""
    if runner._writing is not None:
        await runner._writing


async def full(store: EventStore) -> RequestsView:
    view = RequestsView()
    await rebuild(store, [view])
    return view


async def test_finished_requests_leave_memory_once_stored_and_are_answered_from_the_file(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for n in range(6):
        await append_all(store, story(ev, "terminal:alice", rid(n)))
    await append_all(store, waiting(ev, "terminal:bob", rid(90)))
    requests = RequestsView(tmp_path / "requests.sqlite", keep_finished=2)
    async with ProjectionRunner(store, [requests], checkpoint_interval_s=3600) as runner:
        await written(runner)  # the first checkpoint: every request stored, then the finished let go
        assert set(requests.requests) == {rid(4), rid(5), rid(90)}  # the two most recent finished, and the open one
        expected = await full(store)
        for n in (*range(6), 90):
            assert requests.get(rid(n)) == expected.requests[rid(n)]
        assert requests.get(rid(77)) is None and requests.get("") is None
        assert dict(requests.every()) == expected.requests

        # An event for a request out of memory brings it back, folded on its stored state.
        last = await append_all(store, [proposal(ev, "terminal:alice", rid(0))])
        await runner.wait(last)
        assert rid(0) in requests.requests and requests.requests[rid(0)].changes["shared"].status == "open"
        await checkpoint(runner)
        # Its changes wait for a person: it stays, however many requests finished after it.
        for n in range(6, 9):
            last = await append_all(store, story(ev, "terminal:alice", rid(n)))
        await runner.wait(last)
        await checkpoint(runner)
        assert set(requests.requests) == {rid(0), rid(7), rid(8), rid(90)}
        decided = ChangesDecided(**ev.envelope("terminal:alice", request_id=rid(0)), repo="shared", decision="merge", by="terminal:alice")
        merged = ChangesMerged(**ev.envelope("terminal:alice", request_id=rid(0)), repo="shared", branch=f"tunnels/{rid(0)}-result",
                               into="main", commit="c" * 40, fast_forward=True, by="terminal:alice")
        last = await append_all(store, [decided, merged])
        await runner.wait(last)
        await checkpoint(runner)
        assert set(requests.requests) == {rid(0), rid(8), rid(90)}  # merged: settled, and the most recently changed
        for n in range(9, 11):
            last = await append_all(store, story(ev, "terminal:alice", rid(n)))
        await runner.wait(last)
        await checkpoint(runner)
        assert set(requests.requests) == {rid(9), rid(10), rid(90)}
        expected = await full(store)
        assert requests.get(rid(0)) == expected.requests[rid(0)] and expected.requests[rid(0)].changes["shared"].status == "merged"

    # A start loads the open requests and the most recently stored finished ones; the rest stay on disk.
    restarted = RequestsView(tmp_path / "requests.sqlite", keep_finished=2)
    restarted.load()
    assert set(restarted.requests) == {rid(9), rid(10), rid(90)}
    assert dict(restarted.every()) == expected.requests


async def test_nothing_leaves_memory_while_its_latest_state_is_not_on_disk(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for n in range(3):
        await append_all(store, story(ev, "terminal:alice", rid(n)))
    requests = RequestsView(tmp_path / "requests.sqlite", keep_finished=0)
    file = recording(requests, fail=1)  # the first write fails
    async with ProjectionRunner(store, [requests], checkpoint_interval_s=3600) as runner:
        await written(runner)
        assert set(requests.requests) == {rid(0), rid(1), rid(2)}  # not stored: kept
        await checkpoint(runner)  # written again, whole: now they may go
        assert requests.requests == {}
        assert [whole for _, _, whole in file.writes] == [True, True]
        # Changed after a snapshot was taken but before its write ended: stays until stored.
        last = await append_all(store, [proposal(ev, "terminal:alice", rid(1))])
        await runner.wait(last)
        snapshot = requests.snapshot()
        assert snapshot is not None
        late = ChangesDecided(**ev.envelope("terminal:alice", request_id=rid(1)), repo="shared", decision="discard", by="terminal:alice")
        last = await append_all(store, [late])
        await runner.wait(last)
        snapshot()
        requests.checkpoint_written()
        assert rid(1) in requests.requests and requests.requests[rid(1)].changes["shared"].status == "deciding"
    stored = RequestsView(tmp_path / "requests.sqlite", keep_finished=0)
    stored.load()
    assert stored.get(rid(1)) == (await full(store)).requests[rid(1)]


async def test_without_a_file_or_with_every_request_kept_nothing_leaves(store: EventStore, tmp_path: Path) -> None:
    ev = Events()
    for n in range(3):
        await append_all(store, story(ev, "terminal:alice", rid(n)))
    for view in (RequestsView(), RequestsView(tmp_path / "requests.sqlite", keep_finished=None)):
        async with ProjectionRunner(store, [view], checkpoint_interval_s=0) as runner:
            await runner.wait(await store.last_seq())
        assert len(view.requests) == 3


def test_a_request_is_settled_only_when_nothing_waits_on_anyone() -> None:
    from claude_tunnels.projections.requests import Question, fold, settled

    ev = Events()
    requests: dict = {}
    for event in story(ev, "terminal:alice", rid(1))[:-1]:
        fold(requests, event)
    assert not settled(requests[rid(1)])  # executing
    fold(requests, ev.completed("terminal:alice", rid(1)))
    done = requests[rid(1)]
    assert settled(done)
    asked = Question(permission_id="p1", task_id="t", workspace="shared/core", tool="Bash", detail="make", reason="", asked_at=done.opened_at)
    assert not settled(replace(done, questions={"p1": asked}))
    assert settled(replace(done, questions={"p1": replace(asked, decided=True)}))
    fold(requests, proposal(ev, "terminal:alice", rid(1)))
    assert not settled(requests[rid(1)])
