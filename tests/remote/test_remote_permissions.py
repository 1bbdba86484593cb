"""A remote agent's permission decisions and questions, through a restart of the orchestrator.

The real orchestrator and a real `tunnels-agent` process. The agent's policy refuses a read of the
agent's own credentials (recorded by the orchestrator), then relays a command to the conversation.
The orchestrator stops while the question is pending and a new one starts on the same stream: the
agent carries on waiting, the question is still open, the person's answer reaches the agent, and
the request goes on to its end.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import PermissionDecided, PermissionRequested, RequestCompleted, WorkspaceTaskInterrupted
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import plan, router, succeeds
from tests.e2e.world import BASE_LIMITS
from tests.helpers.remote import ORCH_PASSWORD, ORCH_USER, AgentProcess, agent_args, authorization, make_identity, write_env_file

pytestmark = pytest.mark.cli

EDGE = "edge/worker"


def _scenario(seed_file: Path) -> str:
    edge = {"name": EDGE, "match": [f"Workspace: {EDGE}\n"], "turns": [
        {"tool_uses": [{"name": "Bash", "input": {"command": f"cat {seed_file}"}}]},
        {"tool_uses": [{"name": "Bash", "input": {"command": "touch approved-after-restart.txt"}}]},
        {"structured_output": {"summary": "edge done", "test_result": "skip"}},
    ]}
    return json.dumps({"scripts": [
        router(["edge", "api-service"], "touch a file"),  # names are hints: the router decides
        plan("edge", (EDGE, "touch a file", []), ("api-service", "follow the edge", [EDGE])),
        edge, succeeds("api-service", "api followed"),
    ]})


async def _next(terminal: TerminalChannel, predicate: object, timeout: float = 90) -> AnyEvent:
    return await asyncio.wait_for(terminal.watch(predicate), timeout)  # type: ignore[arg-type]


async def test_a_remote_question_survives_a_restart_of_the_orchestrator_and_its_answer_reaches_the_agent(tmp_path: Path) -> None:
    identity = make_identity(EDGE, tmp_path / "keys")
    edge_dir = tmp_path / "edge-host" / "worker"
    edge_dir.mkdir(parents=True)
    (edge_dir / "CLAUDE.md").write_text("# worker\n", encoding="utf-8")
    root = lay_out(tmp_path / "tree")
    async with EmbeddedNatsServer(tmp_path / "hub", extra_config=authorization(identity)) as server, \
            ScriptedModelServer(parse_scenario(_scenario(identity.seed_file))) as model:
        settings = {
            "nats": {"url": server.url, "user": ORCH_USER, "password": ORCH_PASSWORD}, "claude": {"isolate_home": True},
            "limits": BASE_LIMITS, "permissions": {"relay": {"actions": ["bash"], "timeout_s": 600}},
        }
        (root / "orchestrator.yaml").write_text(json.dumps(settings), encoding="utf-8")
        loaded = load_settings(root / "orchestrator.yaml")
        env_file = write_env_file(tmp_path / "edge.env", model.env())
        agent = await AgentProcess(agent_args(server.url, EDGE, edge_dir, identity.seed_file, tmp_path / "edge-state",
                                              "--env-file", str(env_file))).start()
        try:
            async with Orchestrator(loaded, agent_env=model.env()) as first:
                terminal = TerminalChannel(first, "alice", out=io.StringIO())
                await first.remote.wait_live(EDGE)
                asked = _next(terminal, lambda e: isinstance(e, ConfirmationRequested))
                await terminal.say(f"in {EDGE} and api-service: touch a file")
                await asked
                question = _next(terminal, lambda e: isinstance(e, PermissionRequested))
                await terminal.say("yes")
                pending = await question
                assert pending.detail == "touch approved-after-restart.txt"  # type: ignore[attr-defined]
                refused = [e for e in terminal.events if isinstance(e, PermissionDecided) and not e.allowed]
                assert [e.rule for e in refused] == ["bash.protected_path"], refused  # its own seed file
            # The orchestrator is gone; the agent still waits. A new one takes over the same stream.
            async with Orchestrator(loaded, agent_env=model.env()) as second:
                terminal = TerminalChannel(second, "alice", out=io.StringIO())
                assert second.ctx is not None
                request = second.ctx.requests.get(pending.request_id)
                assert request is not None and request.status == "executing"
                assert [q.permission_id for q in request.pending_questions()] == [pending.permission_id]  # type: ignore[attr-defined]
                done = _next(terminal, lambda e: isinstance(e, RequestCompleted), timeout=120)
                await terminal.say("allow")
                final = await done
        finally:
            await agent.stop()
    assert (edge_dir / "approved-after-restart.txt").exists()
    assert (final.succeeded, final.failed) == (2, 0), final  # type: ignore[attr-defined]
    assert not [e for e in terminal.events if isinstance(e, WorkspaceTaskInterrupted)]
    [answer] = [e for e in terminal.events if isinstance(e, PermissionDecided) and e.permission_id]
    assert (answer.allowed, answer.by) == (True, "terminal:alice")
