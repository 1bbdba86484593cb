"""Rebuild throughput: `rebuild()` of the projections against a raw ordered-consumer read.

100,000 realistic events (many sessions and requests, interleaved) are appended once with
`append_many`. Then, in alternating order within each round:

(a) baseline: a raw nats-py ordered push consumer over the whole stream, counting messages
    (no decode). It still includes nats-py's header parsing: our messages carry headers.
(b) ours: `rebuild(store, [SessionsView, RequestsView, TaskLog])` into fresh temp dirs, with
    checkpoints: stream read + decode + three folds + every task-log file + checkpoint files.
(c) for where the time goes: the same decode + three folds done offline, from the payloads in
    memory (no NATS, no files), over the first 25,000 events (the cost per event does not depend
    on the length; this keeps the script near a minute).

With `--breakdown` (about 40 s more) also: `rebuild` of sessions + requests only (no files),
the full rebuild into a tmpfs dir (/dev/shm: file creation without the disk), and a cProfile of
one full rebuild (top functions by own time).

Run: `.venv/bin/python bench/rebuild.py [--breakdown]` (about 50-60 s on 2 cores). Prints medians,
never asserts.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (first: puts the checkout on sys.path)
from _common import Row, print_table
from _stories import realistic_events
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from claude_tunnels.events.codec import EVENTS, encode
from claude_tunnels.projections import RequestsView, SessionsView, TaskLog, rebuild
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect

EVENTS_COUNT = 100_000
OFFLINE_COUNT = 25_000
ROUNDS = 5


async def raw_read(nc: Client, store: EventStore) -> float:
    """Events/s of an ordered push consumer that only counts the messages."""
    js = nc.jetstream()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    count = 0

    async def on_msg(msg: Msg) -> None:
        nonlocal count
        count += 1
        if count == EVENTS_COUNT:
            done.set_result(None)

    start = time.perf_counter()
    # The same consumer settings as EventStore.subscribe_ordered, so only the callback differs.
    sub = await js.subscribe(
        store.subjects.events, stream=store.layout.stream, cb=on_msg, ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=1),
        pending_msgs_limit=1_000_000, pending_bytes_limit=512 * 1024 * 1024,
    )
    await done
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return EVENTS_COUNT / elapsed


async def full_rebuild(store: EventStore, where: str | None = None) -> float:
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        state = Path(tmp)
        requests = RequestsView(state / "requests.sqlite")
        # As the orchestrator has them (tunnels.backbone.standard_projections): the task log
        # renders the requests view instead of folding every event again.
        views = [SessionsView(state / "sessions.sqlite"), requests, TaskLog(state / ".tasks", state / "task_log.json", requests=requests)]
        start = time.perf_counter()
        last = await rebuild(store, views)
        elapsed = time.perf_counter() - start
    assert last == EVENTS_COUNT  # a sanity check of the run, not of timings
    return EVENTS_COUNT / elapsed


async def views_rebuild(store: EventStore) -> float:
    start = time.perf_counter()
    await rebuild(store, [SessionsView(), RequestsView()])
    return EVENTS_COUNT / (time.perf_counter() - start)


def offline_fold(payloads: list[bytes]) -> float:
    requests = RequestsView()
    views = [SessionsView(), requests, TaskLog(Path("never-written"), requests=requests)]
    start = time.perf_counter()
    for seq, payload in enumerate(payloads, start=1):
        event = EVENTS.decode(payload)
        for view in views:
            view.apply(seq, event)
    return len(payloads) / (time.perf_counter() - start)


async def main() -> None:
    began = time.perf_counter()
    events = realistic_events(EVENTS_COUNT)
    payloads = [encode(event) for event in events]
    requests = len({getattr(event, "request_id", None) for event in events} - {None})
    sessions = len({event.session_key for event in events})
    breakdown = "--breakdown" in sys.argv
    tmpfs_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
    read = Row("(a) raw ordered read vs (b) rebuild: 3 views, task log, checkpoints", aim=0.6)
    offline = Row("(c) raw ordered read vs decode + 3 folds offline (no NATS, no files, 25k)")
    views = Row("(d) raw ordered read vs rebuild: sessions + requests, no files")
    tmpfs = Row("(e) raw ordered read vs rebuild as (b), files on tmpfs (/dev/shm)")
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedNatsServer(Path(tmp) / "state") as server:
            nc = await connect(server.connect_options("bench"))
            store = EventStore(nc, Layout(prefix="bench", stream="BENCH_REBUILD"))
            await store.ensure()
            start = time.perf_counter()
            await store.append_many(events)
            append_s = time.perf_counter() - start
            for round_ in range(ROUNDS):
                ours_first = round_ % 2 == 1
                for ours in (ours_first, not ours_first):
                    if ours:
                        read.ours.append(await full_rebuild(store))
                        offline.ours.append(offline_fold(payloads[:OFFLINE_COUNT]))
                        if breakdown:
                            views.ours.append(await views_rebuild(store))
                            if tmpfs_dir is not None:
                                tmpfs.ours.append(await full_rebuild(store, tmpfs_dir))
                    else:
                        read.baseline.append(await raw_read(nc, store))
            views.baseline = offline.baseline = tmpfs.baseline = read.baseline
            profile = await profiled_rebuild(store) if breakdown else None
            await nc.close()
    print(
        f"rebuild: {EVENTS_COUNT:,} events ({requests:,} requests, {sessions:,} sessions, "
        f"mean payload {sum(map(len, payloads)) / len(payloads):.0f} B), appended with append_many in {append_s:.1f} s"
    )
    print("note: the raw read includes nats-py's header parsing (every message carries Nats-Msg-Id and Tunnels-Schema)")
    extra = [row for row in (views, tmpfs) if row.ours]
    print_table("rebuild", [read, offline, *extra], ROUNDS)
    if profile is not None:
        print("\ncProfile of one full rebuild (b), top 15 by own time:")
        profile.sort_stats("tottime").print_stats(15)
    print(f"\nwall time of this script: {time.perf_counter() - began:.0f} s")
    print(
        f"SUMMARY rebuild: ratio {read.ratio():.2f} (aim >= 0.6); rebuild {statistics.median(read.ours):,.0f} events/s, "
        f"raw read {statistics.median(read.baseline):,.0f} events/s"
    )


async def profiled_rebuild(store: EventStore) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    await full_rebuild(store)
    profiler.disable()
    return pstats.Stats(profiler, stream=sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
