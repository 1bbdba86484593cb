"""`tunnels agent list`: what an operator sees of the remote agents."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import yaml

from claude_tunnels.remote_agent.protocol import Presence
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.commands.agent_list import agent_state
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer
from tests.helpers.remote import ORCH_PASSWORD, ORCH_USER, AgentIdentity, StandInOrchestrator, start_agent
from tests.remote.conftest import API

REPO = Path(__file__).resolve().parents[2]


async def agent_list(root: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "agent", "list", *args, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_list_shows_each_announced_agent_and_its_state(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    nats = {"url": auth_server.url, "user": ORCH_USER, "password": ORCH_PASSWORD}
    (root / "orchestrator.yaml").write_text(yaml.safe_dump({"nats": nats}), encoding="utf-8")

    code, out, err = await agent_list(root)
    assert (code, out) == (0, "") and "no agent has announced itself" in err

    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        presence = await stand_in.wait_presence(lambda p: p.workspace == API and not p.draining)
        code, out, err = await agent_list(root, "--json")
        assert code == 0, err
        (row,) = [json.loads(line) for line in out.splitlines()]
        assert row["workspace"] == API and row["agent"] == presence.agent_id and row["state"] == "live"
        assert row["host"] == presence.host and row["version"] == presence.version
        assert 0 <= row["last_heartbeat_s"] < 60
        code, out, _ = await agent_list(root)
        header, line = out.splitlines()
        assert header.split() == ["WORKSPACE", "AGENT", "HOST", "VERSION", "LAST", "HEARTBEAT", "STATE"]
        assert line.startswith(API) and line.endswith("live")
    finally:
        agent.signal(signal.SIGTERM)
        assert await agent.wait() == 0


def test_an_agent_is_silent_past_the_configured_time_and_draining_when_it_says_so() -> None:
    presence = Presence(workspace=API, agent_id="a", host="h", version="1", heartbeat_at=0.0)
    assert agent_state(presence, 9.9, lost_after_s=10) == "live"
    assert agent_state(presence, 10.1, lost_after_s=10) == "silent"
    draining = Presence(workspace=API, agent_id="a", host="h", version="1", heartbeat_at=0.0, draining=True)
    assert agent_state(draining, 1.0, lost_after_s=10) == "draining"
    assert agent_state(draining, 11.0, lost_after_s=10) == "silent"
