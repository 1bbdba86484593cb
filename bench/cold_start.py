"""Cold start and checkpoint cost at 100,000 events: the whole-file JSON checkpoint (before) vs
the keyed SQLite checkpoint written by difference (after), in one run.

The stream holds 100,000 realistic events. A checkpoint of the first 99,000 is prepared in both
formats (the restart comes 1,000 events after the last checkpoint), with the task log rendered.
Then, alternating within each round:

(a) start: `ProjectionRunner.start()` of sessions + requests + task log from the checkpoint,
    catching up the last 1,000 events, until its first checkpoint is written (before: the whole
    file; after: the records those events changed).
(b) no checkpoint at all (the whole stream folded), once per round, for scale.
(c) a checkpoint after 10 requests and their sessions changed, on the full state: time spent on
    the event loop (before: encode and write the whole file there; after: the snapshot of what
    changed) and the write (after: on the checkpoint thread), and the checkpoint's size.

Run: `.venv/bin/python bench/cold_start.py` (about a minute on 2 cores). Prints medians, never asserts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (first: puts the checkout on sys.path)
from _stories import realistic_events

from claude_tunnels.projections import ProjectionRunner, RequestsView, SessionsView, TaskLog
from claude_tunnels.projections.base import Projection
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect

EVENTS_COUNT = 100_000
BEHIND = 1_000
ROUNDS = 3


class WholeFileSessions(SessionsView):
    """The checkpoint as it was before: the whole state in one JSON file, rewritten each time."""

    load = Projection.load
    snapshot = Projection.snapshot  # type: ignore[assignment]


class WholeFileRequests(RequestsView):
    """As `WholeFileSessions`."""

    load = Projection.load
    snapshot = Projection.snapshot  # type: ignore[assignment]


def views(state: Path, whole_file: bool) -> list[Projection]:
    suffix = "json" if whole_file else "sqlite"
    sessions = (WholeFileSessions if whole_file else SessionsView)(state / f"sessions.{suffix}")
    requests = (WholeFileRequests if whole_file else RequestsView)(state / f"requests.{suffix}")
    return [sessions, requests, TaskLog(state / ".tasks", state / "task_log.json", requests=requests)]


def prepare(state: Path, whole_file: bool, events: list) -> list[Projection]:
    prepared = views(state, whole_file)
    for seq, event in enumerate(events[: EVENTS_COUNT - BEHIND], start=1):
        for view in prepared:
            view.apply(seq, event)
    for view in prepared:
        view.write_outputs()
        view.save()
    return prepared


def size(state: Path, name: str) -> int:
    return sum(p.stat().st_size for p in state.glob(f"{name}*") if p.is_file())


async def timed_start(store: EventStore, prepared: Path, work: Path, whole_file: bool | None) -> float:
    shutil.rmtree(work, ignore_errors=True)
    if whole_file is None:
        work.mkdir(parents=True)
    else:
        shutil.copytree(prepared, work)
    runner = ProjectionRunner(store, views(work, bool(whole_file)))
    start = time.perf_counter()
    await runner.start()
    if runner._writing is not None:
        await runner._writing
    elapsed = time.perf_counter() - start
    assert runner.position == EVENTS_COUNT  # a sanity check of the run, not of timings
    await runner.stop()
    return elapsed


def checkpoint_cost(loaded: list[Projection], changed: list[str]) -> tuple[float, float]:
    """Seconds on the loop (snapshot) and seconds of the write, for `changed` requests."""
    sessions, requests = loaded[0], loaded[1]
    assert isinstance(sessions, SessionsView) and isinstance(requests, RequestsView)
    for request_id in changed:
        requests.changed(request_id)
        sessions.changed(requests.requests[request_id].session_key)
    start = time.perf_counter()
    writes = [write for view in (sessions, requests) if (write := view.snapshot()) is not None]
    on_loop = time.perf_counter() - start
    for write in writes:
        write()
    return on_loop, time.perf_counter() - start - on_loop


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.1f} ms ({min(values) * 1000:,.1f}-{max(values) * 1000:,.1f})"


async def main() -> None:
    began = time.perf_counter()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    events = realistic_events(EVENTS_COUNT)
    starts: dict[str, list[float]] = {"before": [], "after": [], "none": []}
    loop_cost: dict[str, list[float]] = {"before": [], "after": []}
    write_cost: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prepared = {"before": root / "before", "after": root / "after"}
        loaded = {name: prepare(path, name == "before", events) for name, path in prepared.items()}
        sizes = {"before": size(prepared["before"], "requests"), "after": size(prepared["after"], "requests")}
        async with EmbeddedNatsServer(root / "nats") as server:
            nc = await connect(server.connect_options("bench"))
            store = EventStore(nc, Layout(prefix="bench", stream="BENCH_COLD"))
            await store.ensure()
            await store.append_many(events)
            for round_ in range(ROUNDS):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for name in order:
                    starts[name].append(await timed_start(store, prepared[name], root / "work", name == "before"))
                starts["none"].append(await timed_start(store, prepared["after"], root / "work", None))
                request_ids = list(loaded["after"][1].requests)  # type: ignore[attr-defined]
                changed = request_ids[round_ * 10 : round_ * 10 + 10]
                for name in order:
                    on_loop, write = checkpoint_cost(loaded[name], changed)
                    loop_cost[name].append(on_loop if name == "after" else on_loop + write)
                    write_cost[name].append(write)
            await nc.close()
    view = loaded["after"][1]
    assert isinstance(view, RequestsView)
    requests, held = sum(1 for _ in view.every()), len(view.requests)
    print(f"cold start: {EVENTS_COUNT:,} events ({requests:,} requests; after a start, {held:,} of them in memory), "
          f"checkpoint {BEHIND:,} events behind; {ROUNDS} rounds, medians (min-max)")
    print(f"(a) start from the checkpoint, caught up:  before (whole JSON) {ms(starts['before'])}   after (SQLite by record) {ms(starts['after'])}")
    print(f"(b) start with no checkpoint (whole stream): {ms(starts['none'])}")
    print(
        f"(c) checkpoint after 10 requests changed: on the event loop before {ms(loop_cost['before'])}, after {ms(loop_cost['after'])}; "
        f"the write itself before {ms(write_cost['before'])} (on the loop), after {ms(write_cost['after'])} (checkpoint thread)"
    )
    before_mb, after_mb = sizes["before"] / 1e6, sizes["after"] / 1e6
    print(f"    requests checkpoint on disk: before {before_mb:.1f} MB rewritten whole each time; after {after_mb:.1f} MB, 10 records rewritten")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wall time {time.perf_counter() - began:.0f} s")
    print(
        f"SUMMARY cold_start: from checkpoint {statistics.median(starts['before']):.2f} -> {statistics.median(starts['after']):.2f} s, "
        f"checkpoint on the loop {statistics.median(loop_cost['before']) * 1000:.0f} -> {statistics.median(loop_cost['after']) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
