"""An agent that logs in with a `.creds` file (a user JWT signed by an account, NATS operator mode).

The server trusts an operator; the account it signed is preloaded; the agent's user JWT carries
the same permissions `tunnels agent credentials` prints as a config block. The agent runs as its
own process with `--creds`, announces itself, runs a task, and its JWT refuses what the block
refuses.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.credentials import agent_permissions
from claude_tunnels.remote_agent.protocol import ENCODER, Finished, Started, inbox_prefix
from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, connect
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import scenario, succeeds
from tests.helpers.nats_jwt import OperatorMode
from tests.helpers.remote import AgentProcess, StandInOrchestrator, task, write_env_file
from tests.remote.conftest import API, WEB

pytestmark = pytest.mark.cli


@pytest.fixture
def operator() -> OperatorMode:
    return OperatorMode()


@pytest.fixture
async def jwt_server(tmp_path: Path, operator: OperatorMode) -> AsyncIterator[EmbeddedNatsServer]:
    async with EmbeddedNatsServer(tmp_path / "state", extra_config=operator.server_config()) as server:
        yield server


async def test_an_agent_with_a_creds_file_serves_its_workspace_and_nothing_else(
    jwt_server: EmbeddedNatsServer, operator: OperatorMode, workspace_dir: Path,
    scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    orchestrator_creds = operator.user_creds(tmp_path / "creds" / "orchestrator.creds", "orchestrator")
    agent_creds = operator.user_creds(tmp_path / "creds" / "api.creds", "agent shop/api", agent_permissions(API))
    nc = await connect(ConnectOptions(url=jwt_server.url, creds_file=orchestrator_creds))
    async with StandInOrchestrator(nc) as stand_in:
        scripted_model.load(parse_scenario(scenario(succeeds(API, "done with a JWT", writes="jwt.txt"))))
        env_file = write_env_file(tmp_path / "agent.env", scripted_model.env())
        agent = await AgentProcess([
            "--nats", jwt_server.url, "--workspace", API, "--path", str(workspace_dir), "--creds", str(agent_creds),
            "--state-dir", str(tmp_path / "agent-state"), "--heartbeat-s", "0.5", "--env-file", str(env_file),
        ]).start()
        try:
            await stand_in.wait_presence(lambda p: p.workspace == API)
            await stand_in.ensure_consumer(API)
            await stand_in.send(task(API, "t1"))
            report = await stand_in.wait_report(lambda _, r: isinstance(r, Finished) and r.task_id == "t1")
            assert isinstance(report, Finished) and report.outcome == "succeeded", report
            assert (workspace_dir / "jwt.txt").read_text() == "x\n"
        finally:
            agent.signal(signal.SIGTERM)
            assert await agent.wait() == 0

        # The same credentials, used by hand: another workspace's subjects are refused by the server.
        errors: list[str] = []
        intruder = await connect(ConnectOptions(
            url=jwt_server.url, creds_file=agent_creds, inbox_prefix=inbox_prefix(API), errors=errors,
        ))
        try:
            subjects = Subjects("tunnels")
            await intruder.subscribe(subjects.workspace_control(WEB))
            await intruder.publish(subjects.workspace_out(WEB), b"{}")
            # an allowed request after them: every refusal has arrived once it is answered
            own = await intruder.request(subjects.workspace_out(API), ENCODER.encode(Started(task_id="t2", agent_id="a")), timeout=10)
            assert own.data == b"ok"
            refused = [e.lower() for e in errors if "permissions violation" in e.lower()]
            assert any(f'subscription to "{subjects.workspace_control(WEB)}"'.lower() in e for e in refused), refused
            assert any(f'publish to "{subjects.workspace_out(WEB)}"'.lower() in e for e in refused), refused
        finally:
            await intruder.close()
    await nc.close()
