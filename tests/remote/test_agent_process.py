"""The agent as its own OS process, with narrowed nkey credentials, against a stand-in orchestrator."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from remote_agent.protocol import Finished, Progressed, Started
from tests.e2e.scenarios import hangs, scenario, succeeds
from tests.helpers.remote import (
    AgentIdentity,
    AgentProcess,
    StandInOrchestrator,
    agent_args,
    task,
    write_env_file,
)
from tests.remote.conftest import API
from tunnels.bus import EmbeddedNatsServer
from tunnels.scripted_model import ScriptedModelServer, parse_scenario

pytestmark = pytest.mark.cli


async def start_agent(server: EmbeddedNatsServer, identity: AgentIdentity, path: Path, tmp_path: Path,
                      model: ScriptedModelServer, *extra: str) -> AgentProcess:
    env_file = write_env_file(tmp_path / "agent.env", model.env())
    args = agent_args(server.url, identity.workspace, path, identity.seed_file, tmp_path / "agent-state",
                      "--env-file", str(env_file), *extra)
    return await AgentProcess(args).start()


async def test_agent_runs_a_task_and_reports_it(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(succeeds(API, "wrote it", writes="src/hello.py"))))
    agent = await start_agent(auth_server, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        presence = await stand_in.wait_presence(lambda p: p.workspace == API)
        assert "The shop's HTTP API." in presence.claude_md
        assert presence.capacity == 1 and not presence.draining
        await stand_in.ensure_consumer(API)
        await stand_in.send(task(API, "t1"))
        finished = await stand_in.wait_report(lambda ws, r: isinstance(r, Finished) and r.task_id == "t1")
        assert isinstance(finished, Finished)
        assert finished.outcome == "succeeded", finished.error
        assert finished.result is not None and finished.result.summary == "wrote it"
        assert finished.usage.num_turns >= 1
        reports = stand_in.reports_of("t1")
        assert isinstance(reports[0], Started) and reports[0].agent_id == presence.agent_id
        assert any(isinstance(r, Progressed) and r.detail.startswith("Write") for r in reports)
        assert all(ws == API for ws, r in stand_in.reports)
        assert (workspace_dir / "src" / "hello.py").read_text() == "x\n"
        # the same prompt as a local task: the planner's workspace header and the request text
        request = scripted_model.requests_for(API)[0]
        assert f"Workspace: {API}\n" in request.task_text and "please make the change" in request.task_text
        assert request.cwd == str(workspace_dir.resolve())
    finally:
        agent.signal(signal.SIGTERM)
        assert await agent.wait() == 0
