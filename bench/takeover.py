"""High availability on a NATS cluster: how soon a standby takes over, and what replicas cost.

    .venv/bin/python bench/takeover.py [--rounds 5] [--events 20000]

(a) takeover: on a three-node cluster (`nats/cluster.example.conf` on loopback, replicas 3), a
    separate process takes the lease (`tunnels/bus/lease.py`) and renews it; a standby in this
    process waits for it. The holder is SIGKILLed at a random moment of its renewal cycle; timed from the kill to the standby holding the
    lease with its term marker stored (the moment its orchestrator starts: its projections
    rebuild and reconciliation then take what the rebuild row and `bench/resume_kills.py` show).
    For lease TTLs of 1 and 2 s, `--rounds` kills each: median and max, and their ratio to the TTL.
(b) throughput, same run: appends one at a time (`EventStore.append`), pipelined
    (`append_many`), one at a time fenced by a term (the active orchestrator's appends), and a
    full read of the stream (`EventStore.replay`, decode included: what a projection rebuild
    reads), on the single embedded server (replicas 1) and on the three-node cluster (replicas 3).

Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _stories import realistic_events

from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect
from claude_tunnels.tunnels.bus.connection import BusHealth, ConnectOptions
from claude_tunnels.tunnels.bus.lease import Lease
from tests.helpers.nats_cluster import NatsCluster

_HOLDER = """
import asyncio, sys
from claude_tunnels.tunnels.bus import EventStore, Layout
from claude_tunnels.tunnels.bus.connection import ConnectOptions, connect
from claude_tunnels.tunnels.bus.lease import Lease

async def main():
    store = EventStore(await connect(ConnectOptions(url=sys.argv[1])), Layout(replicas=3))
    await store.ensure()
    lease = Lease(store, ttl_s=float(sys.argv[2]), holder="bench-holder")
    print("ACTIVE", await lease.acquire(), flush=True)
    await lease.renew_forever()

asyncio.run(main())
"""


async def takeover_round(cluster: NatsCluster, ttl_s: float) -> float:
    urls = ",".join(cluster.urls)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, urls, str(ttl_s)], stdout=subprocess.PIPE, text=True,
                              cwd=_common.ROOT)
    assert holder.stdout is not None
    line = await asyncio.to_thread(holder.stdout.readline)
    assert line.startswith("ACTIVE"), line
    store = EventStore(await connect(ConnectOptions(url=urls)), Layout(replicas=3))
    await store.ensure()
    standby = Lease(store, ttl_s=ttl_s, holder="bench-standby")
    seen = asyncio.get_running_loop().create_future()
    taking = asyncio.ensure_future(standby.acquire(lambda h: seen.set_result(h)))
    await seen
    await asyncio.sleep(random.uniform(0, ttl_s))  # a kill at any moment of the renewal cycle
    killed = time.perf_counter()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    await taking
    elapsed = time.perf_counter() - killed
    await standby.release()  # the next round's holder takes it at once
    await store.nc.close()
    return elapsed


async def throughput(store: EventStore, count: int) -> dict[str, float]:
    every = realistic_events(count + count // 10)  # distinct ids throughout: no append is a duplicate
    events, fenced = every[:count], every[count:]
    one_at_a_time = events[: count // 10]
    figures: dict[str, float] = {}
    start = time.perf_counter()
    for event in one_at_a_time:
        await store.append(event)
    figures["append"] = len(one_at_a_time) / (time.perf_counter() - start)
    start = time.perf_counter()
    await store.append_many(events[count // 10:])
    figures["append_many"] = (count - count // 10) / (time.perf_counter() - start)
    lease = Lease(store, ttl_s=60, holder="bench")
    await lease.acquire()
    start = time.perf_counter()
    for event in fenced:
        await store.append(event)
    figures["append_fenced"] = len(fenced) / (time.perf_counter() - start)
    await lease.release()
    seen = [0]
    start = time.perf_counter()
    await store.replay(lambda seq, event: seen.__setitem__(0, seen[0] + 1))
    figures["read"] = seen[0] / (time.perf_counter() - start)
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-takeover-") as tmp:
        async with NatsCluster(Path(tmp) / "cluster") as cluster:
            for ttl_s in (1.0, 2.0):
                times = [await takeover_round(cluster, ttl_s) for _ in range(args.rounds)]
                median, worst = statistics.median(times), max(times)
                print(f"takeover after SIGKILL, lease TTL {ttl_s:g} s ({args.rounds} kills): median {median:.2f} s "
                      f"({median / ttl_s:.2f}x TTL), max {worst:.2f} s ({worst / ttl_s:.2f}x TTL); all {sorted(round(t, 2) for t in times)}")
            health = BusHealth()
            nc = await connect(ConnectOptions(url=",".join(cluster.urls)), health)
            on_cluster = EventStore(nc, Layout(prefix="bench", stream="BENCH_R3", replicas=3), health=health)
            await on_cluster.ensure()
            clustered = await throughput(on_cluster, args.events)
            await nc.close()
        async with EmbeddedNatsServer(Path(tmp) / "single") as server:
            nc = await connect(server.connect_options("bench"))
            single_store = EventStore(nc, Layout(prefix="bench", stream="BENCH_R1"))
            await single_store.ensure()
            single = await throughput(single_store, args.events)
            await nc.close()
    print(f"events: {args.events} ({args.events // 10} one at a time, the rest pipelined, {args.events // 10} fenced)")
    print(f"{'events/s':<36}{'embedded, R1':>14}{'3 nodes, R3':>14}{'ratio':>8}")
    for key, label in (("append", "append, one at a time"), ("append_fenced", "append, one at a time, fenced by term"),
                       ("append_many", "append_many (pipelined)"), ("read", "read the whole stream (replay)")):
        print(f"{label:<36}{single[key]:>14,.0f}{clustered[key]:>14,.0f}{clustered[key] / single[key]:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
