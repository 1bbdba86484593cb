"""The orchestrator's side of remote workspaces, with a stand-in agent speaking the protocol.

The orchestrator runs on a manual clock: the stand-in's one announcement stays fresh until the test
moves the clock, and its silence loses its task exactly when the clock passes `remote.lost_after_s`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

import nats
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskFailed, WorkspaceTaskSkipped, WorkspaceTaskStarted
from claude_tunnels.events.planning import ClarificationNeeded
from claude_tunnels.events.values import TaskResult
from claude_tunnels.remote_agent.protocol import (
    ENCODER,
    PRESENCE_BUCKET,
    Finished,
    Presence,
    Started,
    TaskCommand,
    consumer_name,
    kv_key,
)
from claude_tunnels.tunnels.bus import connect
from tests.clocks import ManualClock
from tests.e2e.scenarios import plan, router, scenario, succeeds
from tests.e2e.world import world

REMOTE = "edge/worker"
LOST_AFTER_S = 30


async def announce(nc: nats.NATS, *, claude_md: str = "# worker\nRuns at the edge.") -> None:
    kv = await nc.jetstream().key_value(PRESENCE_BUCKET)
    presence = Presence(workspace=REMOTE, agent_id="stand-in", host="test", version="0", claude_md=claude_md, heartbeat_at=time.time())
    await kv.put(kv_key(REMOTE), msgspec.json.encode(presence))


async def take_task(nc: nats.NATS, stream: str) -> TaskCommand:
    sub = await nc.jetstream().pull_subscribe_bind(consumer_name(REMOTE), stream=stream)
    [msg] = await sub.fetch(1, timeout=30)
    await msg.ack()
    return msgspec.json.decode(msg.data, type=TaskCommand)


async def test_a_plan_mixing_local_and_remote_workspaces_and_an_agent_that_goes_silent(tmp_path: Path) -> None:
    script = scenario(
        router(["shared-lib", "edge", "api-service"], "in shared-lib, edge and api-service: mixed"),
        plan("mixed", ("shared-lib/core", "bump", []), (REMOTE, "deploy the edge", ["shared-lib/core"]),
             ("api-service", "use it", [REMOTE])),
        succeeds("shared-lib/core", "core bumped", writes="VERSION"),
        succeeds("api-service", "api uses the edge"),
    )
    clock = ManualClock(datetime.now(UTC))
    async with world(tmp_path, script, settings={"remote": {"lost_after_s": LOST_AFTER_S}}, clock=clock) as w:
        store = w.orchestrator.store
        nc = await connect(w.orchestrator.backbone.options)  # type: ignore[union-attr]
        try:
            await announce(nc)  # one heartbeat: fresh for as long as the clock stands still
            await w.orchestrator.remote.wait_live(REMOTE)
            tree = w.orchestrator.ctx.tree.tree()  # type: ignore[union-attr]
            assert tree.workspace(REMOTE).remote and "Runs at the edge" in tree.workspace(REMOTE).claude_md
            await w.ask("in shared-lib, edge and api-service: mixed", lambda e: isinstance(e, ConfirmationRequested))
            assert "Runs at the edge" in w.model.requests_for("planner-mixed")[0].task_text
            await w.terminal.say("yes")

            # The remote task arrives with the local phase-1 result as upstream context.
            command = await take_task(nc, f"{store.layout.stream}_TASKS")
            assert command.workspace == REMOTE and command.upstream[0].result.summary == "core bumped"
            out = store.subjects.workspace_out(REMOTE)
            started = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskStarted) and e.workspace == REMOTE)
            assert (await nc.request(out, ENCODER.encode(Started(task_id=command.task_id, agent_id="stand-in")), timeout=10)).data == b"ok"
            await asyncio.wait_for(started, 10)
            # A report about this task through another workspace's subject is refused.
            forged = await nc.request(store.subjects.workspace_out("api-service"), ENCODER.encode(
                Finished(task_id=command.task_id, outcome="succeeded", result=TaskResult(summary="forged"))), timeout=10)
            assert b"another workspace" in forged.data
            done = w.terminal.watch(lambda e: isinstance(e, RequestCompleted))
            await nc.request(out, ENCODER.encode(Finished(
                task_id=command.task_id, outcome="succeeded", result=TaskResult(summary="edge deployed"))), timeout=10)
            final = await asyncio.wait_for(done, 60)
            assert (final.succeeded, final.failed) == (3, 0)  # type: ignore[attr-defined]
            assert "edge deployed" in final.summary  # type: ignore[attr-defined]

            # Second request: the agent takes the task and then falls silent.
            await w.ask("in shared-lib, edge and api-service: mixed again", lambda e: isinstance(e, ConfirmationRequested))
            await w.terminal.say("yes")
            command = await take_task(nc, f"{store.layout.stream}_TASKS")
            await nc.request(out, ENCODER.encode(Started(task_id=command.task_id, agent_id="stand-in")), timeout=10)
            lost = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskFailed) and e.workspace == REMOTE)
            skipped = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskSkipped))
            clock.advance(LOST_AFTER_S)  # silent for exactly `lost_after_s`: the watchdog's checks on the way keep it
            assert command.task_id in w.orchestrator.remote.in_flight and not lost.done()
            clock.advance(1)  # the next check (every min(1 s, lost_after_s / 4)) finds it lost
            assert command.task_id not in w.orchestrator.remote.in_flight
            failure = await asyncio.wait_for(lost, 30)
            assert failure.error == f"agent lost: no heartbeat from stand-in for {LOST_AFTER_S:g} s"  # type: ignore[attr-defined]
            assert (await asyncio.wait_for(skipped, 30)).workspace == "api-service"  # type: ignore[attr-defined]
        finally:
            await nc.close()


async def test_a_project_known_only_through_its_remote_agent_is_described_to_the_router(tmp_path: Path) -> None:
    question = "Which layer do you mean?"
    script = scenario({"name": "router", "match": ["Which projects is this request about?", "- edge: worker: Runs jobs at the edge, near users."],
                       "turns": [{"structured_output": {"projects": [], "clarification": question}}]})
    async with world(tmp_path, script) as w:
        nc = await connect(w.orchestrator.backbone.options)  # type: ignore[union-attr]
        try:
            await announce(nc, claude_md="---\ndepends_on: [api-service]\n---\n# worker\n\nRuns jobs at the edge, near users.\n")
            await w.orchestrator.remote.wait_live(REMOTE)
            asked = await w.ask("please speed up the caching layer", lambda e: isinstance(e, ClarificationNeeded), timeout=60)
            assert asked.question == question  # type: ignore[attr-defined]
            # Its announced depends_on joins the graph the planner gets.
            tree = w.orchestrator.ctx.tree.tree()  # type: ignore[union-attr]
            assert tree.graph().uses(REMOTE) == ["api-service"]
        finally:
            await nc.close()
