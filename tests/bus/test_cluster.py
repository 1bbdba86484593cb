"""`nats/cluster.example.conf` run three times on loopback with `nats.replicas: 3`: the stream,
its consumer and the presence bucket keep three copies; losing the stream's leader node loses no
event, and the node catches up when it returns."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.remote_agent.protocol import PRESENCE_BUCKET
from claude_tunnels.tunnels.bus import EventStore, Layout
from claude_tunnels.tunnels.bus.connection import BusHealth, ConnectOptions, connect
from claude_tunnels.tunnels.bus.workspaces import WorkspaceBus
from tests.factories import Events
from tests.helpers.nats_cluster import NatsCluster


async def test_replicas_three_survive_the_stream_leader_and_it_catches_up(tmp_path: Path) -> None:
    async with NatsCluster(tmp_path) as cluster:
        health = BusHealth()
        nc = await connect(ConnectOptions(url=",".join(cluster.urls), name="test"), health)
        store = EventStore(nc, Layout(replicas=3), health=health, outage_s=30)
        await store.ensure()
        await store.ensure()  # idempotent
        info = await store.js.stream_info(store.layout.stream)
        assert info.config.num_replicas == 3 and info.cluster is not None and len(info.cluster.replicas or []) == 2
        bus = WorkspaceBus(store)
        await bus.start(lambda workspace, presence: None, _no_report)
        assert (await store.js.stream_info(f"KV_{PRESENCE_BUCKET}")).config.num_replicas == 3
        await bus.stop()

        events = Events()
        first = [events.message("terminal:alice", f"before {i}") for i in range(20)]
        for event in first:
            await store.append(event)
        leader = await cluster.stream_leader(nc, store.layout.stream)
        cluster.kill(leader)
        second = [events.message("terminal:alice", f"after {i}") for i in range(20)]
        for event in second:
            await store.append(event)  # waits out the failover, retried by id: stored once
        new_leader = await cluster.stream_leader(nc, store.layout.stream)
        assert new_leader != leader
        stored = await store.read()
        assert [s.event.id for s in stored] == [e.id for e in first + second]

        await cluster.start(leader)
        last = stored[-1].seq

        async def caught_up() -> bool:
            # The leader's view of the returned node's replica: current, nothing left to send.
            state = (await store.js.stream_info(store.layout.stream)).cluster
            peers = {peer.name: peer for peer in (state.replicas or [])} if state is not None else {}
            return leader in peers and bool(peers[leader].current) and not peers[leader].lag
        await cluster.until(caught_up)
        # Now the returned node can lead: the two others go, one at a time, and it still has it all.
        for other in [n for n in cluster.nodes if n not in (leader, new_leader)]:
            cluster.kill(other)
        await store.append(events.message("terminal:alice", "with the returned node in the quorum"))
        assert (await store.last_seq()) == last + 1
        await nc.close()


async def _no_report(workspace: str, data: bytes) -> bytes:
    return b""
