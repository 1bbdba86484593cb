"""An orchestrator on `nats/cluster.example.conf` run three times, with `nats.replicas: 3`: the
streams, the actors' consumer and the key-value buckets keep three copies (made idempotently);
the stream's leader node is SIGKILLed while a task runs; the request completes, nothing is lost
or run twice, and the node catches up when it returns (and can then be part of the quorum)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskStarted
from claude_tunnels.remote_agent.protocol import PRESENCE_BUCKET
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.e2e.world import world
from tests.helpers.nats_cluster import NatsCluster


async def test_a_request_survives_the_loss_of_the_stream_leader_node(tmp_path: Path) -> None:
    script = scenario(plan("one", ("api-service", "change it", [])), succeeds("api-service", "changed", delay_s=1))
    async with NatsCluster(tmp_path / "nats") as cluster:
        settings = {"nats": {"url": cluster.urls, "replicas": 3}}
        async with world(tmp_path, script, settings=settings) as w:
            await w.ask("in api-service: change it", lambda e: isinstance(e, ConfirmationRequested))
            started = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskStarted))
            ended = w.terminal.watch(lambda e: isinstance(e, REQUEST_ENDED))
            await w.terminal.say("yes")
            await asyncio.wait_for(started, 120)
            store = w.orchestrator.store
            for stream in (store.layout.stream, f"{store.layout.stream}_TASKS", f"KV_{PRESENCE_BUCKET}", "KV_tunnels_lease"):
                assert (await store.js.stream_info(stream)).config.num_replicas == 3, stream
            assert (await store.js.consumer_info(store.layout.stream, "tunnels_actors")).config.num_replicas == 3
            await store.ensure()  # again: idempotent
            leader = await cluster.stream_leader(store.nc, store.layout.stream)
            cluster.kill(leader)  # mid-task: its end, the request's end and the replies are still to be stored
            final = await asyncio.wait_for(ended, 120)
            assert isinstance(final, RequestCompleted) and (final.succeeded, final.failed) == (1, 0)
            stored = await store.read()
            ids = [s.event.id for s in stored]
            assert len(ids) == len(set(ids))  # nothing stored twice
            assert len([s for s in stored if isinstance(s.event, WorkspaceTaskStarted)]) == 1  # nor run twice
            assert len([s for s in stored if isinstance(s.event, REQUEST_ENDED)]) == 1
            assert "changed" in w.out.getvalue()

            await cluster.start(leader)

            async def caught_up() -> bool:
                state = (await store.js.stream_info(store.layout.stream)).cluster
                peers = {peer.name: peer for peer in (state.replicas or [])} if state is not None else {}
                return leader in peers and bool(peers[leader].current) and not peers[leader].lag
            await cluster.until(caught_up)
            # With the returned node caught up, a third node may go: the quorum includes it.
            for other in [n for n in cluster.nodes if n != leader][:1]:
                cluster.kill(other)
            await w.ask("in api-service: change it again", lambda e: isinstance(e, ConfirmationRequested))
