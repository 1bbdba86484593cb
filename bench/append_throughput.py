"""Append throughput: `EventStore` against raw nats-py JetStream publishing of the same messages.

Both sides publish the same encoded JSON to the same subjects with the same headers
(`Nats-Msg-Id` = event id, `Tunnels-Schema`), each into a fresh stream declared the same way, in
alternating order within one run. The events are built before the clock starts; the raw side also
gets its subjects, payloads and headers prebuilt, so the difference is what the store adds.

(a) sequential: `await store.append(e)` vs `await js.publish(...)`, one at a time;
(b) pipelined: `store.append_many(events)` (windows of 1000) vs raw `js.publish_async` in windows
    of 1000, waiting on each window's futures; plus, for context, raw `publish_async` with no
    windows (nats-py's own 4000-pending limit, then `publish_async_completed()`).

Run: `.venv/bin/python bench/append_throughput.py` (about 40-50 s on 2 cores). Prints medians, never asserts.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (first: puts the checkout on sys.path)
from _common import Row, print_table
from _stories import realistic_events
from nats.aio.client import Client

from claude_tunnels.events.base import Event
from claude_tunnels.events.codec import encode
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.events.upcasting import SCHEMA_VERSION
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect
from claude_tunnels.tunnels.bus.store import SCHEMA_HEADER

ROUNDS = 9
SEQUENTIAL = 2_000
PIPELINED = 20_000
WINDOW = 1_000

_streams = itertools.count()


async def fresh_store(nc: Client) -> EventStore:
    """A store on a new, empty stream (prefixes of equal length, so stored sizes are equal)."""
    n = next(_streams)
    store = EventStore(nc, Layout(prefix=f"b{n:04d}", stream=f"BENCH_{n:04d}"))
    await store.ensure()
    return store


async def drop(store: EventStore) -> None:
    for spec in store.declarations["streams"].values():
        await store.js.delete_stream(spec["name"])


def raw_messages(store: EventStore, events: list[Event]) -> list[tuple[str, bytes, dict[str, str]]]:
    subjects = Subjects(store.layout.prefix)
    return [(subjects.for_event(e), encode(e), {"Nats-Msg-Id": e.id, SCHEMA_HEADER: str(SCHEMA_VERSION)}) for e in events]


async def ours_sequential(nc: Client, events: list[Event]) -> float:
    store = await fresh_store(nc)
    start = time.perf_counter()
    for event in events:
        await store.append(event)
    elapsed = time.perf_counter() - start
    await drop(store)
    return len(events) / elapsed


async def raw_sequential(nc: Client, events: list[Event]) -> float:
    store = await fresh_store(nc)
    messages = raw_messages(store, events)
    js = nc.jetstream(timeout=10.0)
    start = time.perf_counter()
    for subject, payload, headers in messages:
        await js.publish(subject, payload, headers=headers, timeout=10.0)
    elapsed = time.perf_counter() - start
    await drop(store)
    return len(events) / elapsed


async def ours_pipelined(nc: Client, events: list[Event]) -> float:
    store = await fresh_store(nc)
    start = time.perf_counter()
    appended = await store.append_many(events, window=WINDOW)
    elapsed = time.perf_counter() - start
    assert appended[-1].seq == len(events)  # a sanity check of the run, not of timings
    await drop(store)
    return len(events) / elapsed


async def raw_pipelined(nc: Client, events: list[Event], window: int | None) -> float:
    store = await fresh_store(nc)
    messages = raw_messages(store, events)
    js = nc.jetstream(timeout=10.0)
    start = time.perf_counter()
    if window is None:
        for subject, payload, headers in messages:
            await js.publish_async(subject, payload, headers=headers)
        await js.publish_async_completed()
    else:
        for offset in range(0, len(messages), window):
            futures = [
                await js.publish_async(subject, payload, headers=headers)
                for subject, payload, headers in messages[offset : offset + window]
            ]
            await asyncio.wait(futures, timeout=10.0)
            last = futures[-1].result().seq
    elapsed = time.perf_counter() - start
    if window is not None:
        assert last == len(events)  # a sanity check of the run, not of timings
    await drop(store)
    return len(events) / elapsed


async def pair(row: Row, ours: Coroutine[Any, Any, float], baseline: Coroutine[Any, Any, float], ours_first: bool) -> None:
    """Measure both sides of one row back to back."""
    if ours_first:
        row.ours.append(await ours)
        row.baseline.append(await baseline)
    else:
        row.baseline.append(await baseline)
        row.ours.append(await ours)


async def main() -> None:
    began = time.perf_counter()
    events = realistic_events(PIPELINED)
    size = sum(len(encode(e)) for e in events) / len(events)
    seq = Row("(a) sequential: append vs js.publish", aim=0.8)
    pipe = Row("(b) pipelined: append_many vs publish_async, windows of 1000", aim=0.8)
    unwindowed = Row("(b') append_many vs publish_async, no windows (context)")
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedNatsServer(Path(tmp) / "state") as server:
            nc = await connect(server.connect_options("bench"))
            # Warm up both paths once (connection, reply inboxes, stream creation), unmeasured.
            await ours_pipelined(nc, events[:2000])
            await raw_pipelined(nc, events[:2000], WINDOW)
            for round_ in range(ROUNDS):
                # Each pair runs back to back, in alternating order, so drift hits both sides alike.
                flip = round_ % 2 == 1
                await pair(seq, ours_sequential(nc, events[:SEQUENTIAL]), raw_sequential(nc, events[:SEQUENTIAL]), flip)
                await pair(pipe, ours_pipelined(nc, events), raw_pipelined(nc, events, WINDOW), flip)
                unwindowed.baseline.append(await raw_pipelined(nc, events, None))
            unwindowed.ours = pipe.ours
            await nc.close()
    print(f"append throughput: {SEQUENTIAL:,} sequential / {PIPELINED:,} pipelined events per round, "
          f"mean payload {size:.0f} B, file storage, one nats-server on loopback")
    print_table("append", [seq, pipe, unwindowed], ROUNDS)
    print(f"\nwall time of this script: {time.perf_counter() - began:.0f} s")
    print(
        f"SUMMARY append: sequential ratio {seq.ratio():.2f}, pipelined ratio {pipe.ratio():.2f} "
        f"(aim >= 0.8); ours {statistics.median(seq.ours):,.0f} / {statistics.median(pipe.ours):,.0f} events/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
