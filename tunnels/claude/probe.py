"""Whether the OS sandbox really confines an agent's command on this host (for `tunnels doctor`).

A real session of the real CLI, played by the scripted model (no account, no network), runs two
commands with every command allowed by the rules: one writes inside its workspace, the other
writes outside it after a `cd`, which no command parser can follow. Only the sandbox can stop the
second; the probe passes when the first file exists and the second does not.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.actors.agent_errors import AgentError
from claude_tunnels.tunnels.claude.permissions import BashRules
from claude_tunnels.tunnels.claude.runner import run_workspace_task
from claude_tunnels.tunnels.claude.sandbox import check_sandbox
from claude_tunnels.tunnels.claude.spec import AgentSpec
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario

_SCRIPT = {"scripts": [{"name": "probe", "match": ["TUNNELS-SANDBOX-PROBE"], "turns": [
    {"tool_uses": [{"name": "Bash", "input": {"command": "echo inside > inside.txt"}}]},
    {"tool_uses": [{"name": "Bash", "input": {"command": "cd .. && echo escaped > outside.txt"}}]},
    {"structured_output": {"summary": "probe done"}},
]}]}


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: `confined` when the inside write landed and the outside one did not."""

    confined: bool
    detail: str


async def probe_sandbox(cli_path: str | None = None, env: Mapping[str, str] | None = None) -> ProbeResult:
    """Run the probe session in a temporary folder (removed afterwards)."""
    check = check_sandbox()
    if not check.ok:
        return ProbeResult(False, check.problem)
    with tempfile.TemporaryDirectory(prefix="tunnels-probe-") as folder:
        root = Path(folder)
        workspace = root / "workspace"
        workspace.mkdir()
        async with ScriptedModelServer(parse_scenario(json.dumps(_SCRIPT), "sandbox probe")) as model:
            spec = AgentSpec(
                prompt="TUNNELS-SANDBOX-PROBE", cwd=workspace, kind="workspace", env={**(env or {}), **model.env()},
                cli_path=cli_path, bash=BashRules(mode="allow_all"), sandbox_dir=root / "home", timeout_s=120, max_turns=6,
            )
            try:
                await run_workspace_task(spec)
            except AgentError as err:
                return ProbeResult(False, f"the probe session failed: {err}")
        inside, outside = (workspace / "inside.txt").exists(), (root / "outside.txt").exists()
    if outside:
        return ProbeResult(False, "a command wrote outside its workspace: the sandbox does not confine commands here")
    if not inside:
        return ProbeResult(False, "a command could not even write inside its workspace")
    return ProbeResult(True, "a command wrote inside its workspace and was stopped writing outside it")
