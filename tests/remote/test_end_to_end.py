"""The real orchestrator and a real `tunnels-agent` process, over a nats-server with authorization.

The orchestrator connects as the unrestricted `orchestrator` user; the agent as an nkey user
confined to its workspace (the block `tunnels agent credentials` prints). Both sessions run the
real Claude Code CLI against the scripted model.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import (
    RequestCompleted,
    WorkspaceTaskFailed,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.protocol import PRESENCE_BUCKET, Presence, inbox_prefix, kv_key
from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, connect
from claude_tunnels.tunnels.scripted_model import parse_scenario
from tests.clocks import ManualClock
from tests.e2e.scenarios import plan, router, scenario, succeeds
from tests.e2e.world import World, world
from tests.helpers.remote import (
    ORCH_PASSWORD,
    ORCH_USER,
    AgentIdentity,
    AgentProcess,
    TcpProxy,
    agent_args,
    authorization,
    hub_config,
    leaf_config,
    make_identity,
    write_env_file,
)

pytestmark = pytest.mark.cli

EDGE = "edge/worker"


def mixed_plan(*edge_script: dict[str, Any]) -> str:
    return scenario(
        # Names in a message are hints: the router agent decides, here keeping the three named.
        router(["shared-lib", "edge", "api-service"], "in shared-lib, edge and api-service: mixed"),
        plan("mixed", ("shared-lib/core", "bump", []), (EDGE, "deploy the edge", ["shared-lib/core"]),
             ("api-service", "use it", [EDGE])),
        succeeds("shared-lib/core", "core bumped", writes="VERSION"),
        *edge_script,
        succeeds("api-service", "api uses the edge"),
    )


def edge_hangs() -> dict[str, Any]:
    return {"name": EDGE, "match": [f"Workspace: {EDGE}\n"], "turns": [{"hang": True}]}


@asynccontextmanager
async def remote_world(
    tmp_path: Path, script: str, *, clock: ManualClock | None = None, **remote: float,
) -> AsyncIterator[tuple[World, AgentIdentity, Path, str]]:
    """An authorizing server, the orchestrator on it (on `clock` when given), and the edge agent's identity and folder."""
    identity = make_identity(EDGE, tmp_path / "keys")
    edge_dir = tmp_path / "edge-host" / "worker"
    edge_dir.mkdir(parents=True)
    (edge_dir / "CLAUDE.md").write_text("# worker\nRuns at the edge.\n", encoding="utf-8")
    async with EmbeddedNatsServer(tmp_path / "hub", extra_config=authorization(identity)) as server:
        settings = {"nats": {"url": server.url, "user": ORCH_USER, "password": ORCH_PASSWORD}, "remote": remote}
        async with world(tmp_path, script, settings=settings, clock=clock) as w:
            yield w, identity, edge_dir, server.url


async def start_edge_agent(
    w: World, identity: AgentIdentity, edge_dir: Path, url: str, tmp_path: Path, *extra: str
) -> AgentProcess:
    env_file = write_env_file(tmp_path / "edge.env", w.model.env())
    args = agent_args(url, EDGE, edge_dir, identity.seed_file, tmp_path / "edge-state", "--env-file", str(env_file), *extra)
    agent = await AgentProcess(args).start()
    await w.orchestrator.remote.wait_live(EDGE)
    return agent


async def seen_last_heartbeat(w: World) -> None:
    """Wait until the orchestrator has seen the last heartbeat a dead agent wrote (it may still be on
    its way through the KV watch, and would count as a sign of life at the clock's next reading)."""
    nc = await connect(w.orchestrator.backbone.options)  # type: ignore[union-attr]
    try:
        entry = await (await nc.jetstream().key_value(PRESENCE_BUCKET)).get(kv_key(EDGE))
    finally:
        await nc.close()
    last = msgspec.json.decode(entry.value or b"", type=Presence)
    remote = w.orchestrator.remote
    await remote.wait_seen(lambda: EDGE in remote.presences and remote.presences[EDGE][0] == last)


async def run_request(w: World, text: str, until: type = RequestCompleted, timeout: float = 90) -> Any:
    await w.ask(text, lambda e: isinstance(e, ConfirmationRequested))
    return await w.ask("yes", lambda e: isinstance(e, until), timeout)


async def test_a_plan_mixing_local_and_remote_workspaces_runs_end_to_end(tmp_path: Path) -> None:
    script = mixed_plan(succeeds(EDGE, "edge deployed", writes="deploy.txt"))
    async with remote_world(tmp_path, script) as (w, identity, edge_dir, url):
        # The workspace declares a test that fails on what the agent writes, although it claims a pass.
        (edge_dir / "CLAUDE.md").write_text("---\ntest: grep -q deployed deploy.txt\n---\n# worker\nRuns at the edge.\n", encoding="utf-8")
        host, port = url.removeprefix("nats://").split(":")
        async with TcpProxy(host, int(port)) as proxy:
            agent = await start_edge_agent(w, identity, edge_dir, f"nats://127.0.0.1:{proxy.port}", tmp_path)
            try:
                final = await run_request(w, "in shared-lib, edge and api-service: mixed")
                assert (final.succeeded, final.failed) == (3, 0), final
                assert "edge deployed" in final.summary
                # the planner read the CLAUDE.md the agent announced
                assert "Runs at the edge." in w.model.requests_for("planner-mixed")[0].task_text
                # the remote session ran in the agent's folder, got the local result upstream,
                # and wrote only there
                edge_request = w.model.requests_for(EDGE)[0]
                assert edge_request.cwd == str(edge_dir.resolve())
                assert "core bumped" in edge_request.task_text
                assert (edge_dir / "deploy.txt").read_text() == "x\n"
                assert sorted(p.name for p in edge_dir.iterdir()) == ["CLAUDE.md", "deploy.txt"]
                assert not list(w.root.rglob("deploy.txt"))
                # What changed and how the test went come from the agent process, not from the model's claims.
                edge_end = next(e for e in w.of_type(WorkspaceTaskSucceeded) if e.workspace == EDGE)
                assert edge_end.result.test_result == "pass" and edge_end.facts is not None
                assert [f.path for f in edge_end.facts.files] == ["deploy.txt"] and not edge_end.facts.branch
                assert edge_end.facts.test is not None and edge_end.facts.test.command == "grep -q deployed deploy.txt"
                assert not edge_end.facts.test.passed and edge_end.facts.test.exit_code == 1
                assert edge_end.facts.mismatches == ["the agent said tests pass; `grep -q deployed deploy.txt` failed"]
                started = [e for e in w.of_type(WorkspaceTaskStarted) if e.workspace == EDGE]
                assert [e.agent for e in started] == [w.orchestrator.remote.presences[EDGE][0].agent_id]

                # The agent's network goes away while it is idle, and comes back: it takes the next task.
                await proxy.cut()
                await agent.wait_for_line("disconnected from")
                await proxy.restore()
                await agent.wait_for_line("reconnected to")
                final = await run_request(w, "in shared-lib, edge and api-service: mixed again")
                assert (final.succeeded, final.failed) == (3, 0), final
            finally:
                agent.signal(signal.SIGTERM)
                assert await agent.wait() == 0


async def test_a_killed_agent_is_reported_lost_and_a_restarted_one_serves_again(tmp_path: Path) -> None:
    # On a manual clock: the agent's heartbeats keep it live while the clock stands still, however
    # slow the machine; once it is dead, moving the clock past `remote.lost_after_s` loses its task.
    clock = ManualClock(datetime.now(UTC))
    async with remote_world(tmp_path, mixed_plan(edge_hangs()), clock=clock, lost_after_s=30) as (w, identity, edge_dir, url):
        agent = await start_edge_agent(w, identity, edge_dir, url, tmp_path)
        try:
            started = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskStarted) and e.workspace == EDGE)
            lost = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskFailed) and e.workspace == EDGE)
            skipped = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskSkipped))
            await w.ask("in shared-lib, edge and api-service: mixed", lambda e: isinstance(e, ConfirmationRequested))
            await w.terminal.say("yes")
            await asyncio.wait_for(started, 60)
            await w.model.wait_for_requests(1, script=EDGE)  # the remote session is running
            agent.kill_group()  # the host goes away mid-task: agent and its Claude Code CLI
            await agent.wait()
            await seen_last_heartbeat(w)
            remote = w.orchestrator.remote
            clock.advance(30)  # silent for exactly `lost_after_s`: not lost yet
            assert [f.dispatched.workspace for f in remote.in_flight.values()] == [EDGE] and not lost.done()
            clock.advance(1)  # the watchdog's next check
            failure = await asyncio.wait_for(lost, 30)
            assert "agent lost" in failure.error and "for 30 s" in failure.error  # remote.lost_after_s
            assert (await asyncio.wait_for(skipped, 30)).workspace == "api-service"
        finally:
            await agent.stop()
        # The agent starts again (same state folder: its lock was released with the process).
        w.model.load(parse_scenario(mixed_plan(succeeds(EDGE, "edge deployed"))))
        agent = await start_edge_agent(w, identity, edge_dir, url, tmp_path)
        try:
            final = await run_request(w, "in shared-lib, edge and api-service: mixed again")
            assert (final.succeeded, final.failed) == (3, 0), final
        finally:
            agent.signal(signal.SIGTERM)
            assert await agent.wait() == 0


async def test_an_agent_behind_a_leaf_node_serves_a_mixed_plan_and_the_leaf_is_confined(tmp_path: Path) -> None:
    """The layout of nats/leafnode.example.conf: the agent talks only to a leaf server on its own
    host, which dials out to the hub as a confined nkey user; JetStream is reached through the
    hub's domain (`--js-domain hub`)."""
    script = mixed_plan(succeeds(EDGE, "edge deployed through the leaf", writes="deploy.txt"))
    identity = make_identity(EDGE, tmp_path / "keys")  # the agent, a user of the leaf server
    leaf = make_identity(EDGE, tmp_path / "leaf-keys")  # the leaf connection, a user of the hub
    edge_dir = tmp_path / "edge-host" / "worker"
    edge_dir.mkdir(parents=True)
    (edge_dir / "CLAUDE.md").write_text("# worker\nBehind a leaf node.\n", encoding="utf-8")
    hub_state = tmp_path / "hub"
    hub_extra = hub_config(hub_state / "nats" / "store", "hub", leaf)
    async with EmbeddedNatsServer(hub_state, extra_config=hub_extra) as hub:
        _, leaf_port = hub.listeners["leafnode"]
        # A local user of the leaf with no limits: what a compromised agent host could add.
        intruder = "{ user: intruder, password: intruder-password }"
        leaf_extra = leaf_config(leaf_port, leaf, "hub", identity, extra_users=intruder)
        async with EmbeddedNatsServer(tmp_path / "leaf", extra_config=leaf_extra) as leaf_server:
            settings = {"nats": {"url": hub.url, "user": ORCH_USER, "password": ORCH_PASSWORD}}
            async with world(tmp_path, script, settings=settings) as w:
                agent = await start_edge_agent(w, identity, edge_dir, leaf_server.url, tmp_path, "--js-domain", "hub")
                try:
                    assert "Behind a leaf node." in w.orchestrator.remote.presences[EDGE][0].claude_md
                    final = await run_request(w, "in shared-lib, edge and api-service: mixed")
                    assert (final.succeeded, final.failed) == (3, 0), final
                    assert "edge deployed through the leaf" in final.summary
                    assert (edge_dir / "deploy.txt").read_text() == "x\n"

                    # Whatever a user of the leaf does, the hub lets the leaf do no more than
                    # the agent: no event log, no other workspace's reports. (Replies come back
                    # under the agent's inbox prefix, so only the request itself is refused.)
                    nc = await connect(ConnectOptions(
                        url=leaf_server.url, user="intruder", password="intruder-password",
                        inbox_prefix=inbox_prefix(EDGE),
                    ))
                    try:
                        for subject in ("$JS.hub.API.STREAM.INFO.TUNNELS_EVENTS",
                                        Subjects("tunnels").workspace_out("shared-lib/core")):
                            with pytest.raises((NoRespondersError, NatsTimeoutError)):
                                await nc.request(subject, b"{}", timeout=2)
                        # while its own workspace's subjects do cross (the orchestrator answers)
                        own = await nc.request(Subjects("tunnels").workspace_out(EDGE), b"{}", timeout=10)
                        assert own.data
                    finally:
                        await nc.close()
                finally:
                    agent.signal(signal.SIGTERM)
                    assert await agent.wait() == 0
