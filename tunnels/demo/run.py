"""The demo: a sample tree, the scripted model, one request approved and run through three phases."""

from __future__ import annotations

import asyncio
import difflib
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import TextIO

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.tunnels.claude.sandbox import check_sandbox
from claude_tunnels.tunnels.demo.sample_tree import lay_out, snapshot
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario

REQUEST = "upgrade the shared library to v2 and update its users, then run their tests"

DEMO_SETTINGS = """\
# Settings of the demo tree (written by `tunnels demo`).
claude:
  isolate_home: true      # agent sessions get a private HOME under .tunnels/
limits:
  task_timeout_s: 240
  progress_interval_s: 0.2
"""


def demo_scenario_text() -> str:
    """The scripted model's answers for the demo."""
    return resources.files("claude_tunnels.tunnels.demo").joinpath("scenario.yaml").read_text(encoding="utf-8")


def _print_changes(before: dict[str, str], after: dict[str, str], out: TextIO) -> list[str]:
    changed = sorted(path for path in after if before.get(path) != after[path])
    out.write("\nFiles really changed in the workspaces:\n")
    for path in changed:
        diff = difflib.unified_diff(before.get(path, "").splitlines(), after[path].splitlines(), lineterm="", n=0)
        body = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
        out.write(f"  {path}\n" + "".join(f"      {line}\n" for line in body[:6]))
    return changed


async def run_demo(base: Path, out: TextIO = sys.stdout) -> int:
    """Run the demo under `base` (replaced if it exists); return the exit code."""
    root = base / "tree"
    if base.exists():
        shutil.rmtree(base)
    lay_out(root)
    settings = DEMO_SETTINGS
    sandbox = check_sandbox()
    if not sandbox.ok:
        # A real orchestrator refuses to run agents here; the demo's own scripted agents run
        # unsandboxed on its throw-away tree, and says so.
        out.write(f"Note: Claude Code's OS sandbox cannot run here ({sandbox.problem}); the demo runs its\n"
                  "scripted agents without it. A real orchestrator refuses to run agents on this host.\n\n")
        settings += "permissions:\n  sandbox: off\n"
    (root / "orchestrator.yaml").write_text(settings, encoding="utf-8")
    loaded = load_settings(root / "orchestrator.yaml")
    before = snapshot(root)
    out.write(f"Sample tree: {root}\n  projects: shared-lib (core, docs), web-app (backend, frontend), api-service\n\n")
    scenario = parse_scenario(demo_scenario_text())
    async with ScriptedModelServer(scenario) as model, Orchestrator(loaded, agent_env=model.env()) as orchestrator:
        out.write(f"Embedded NATS at {orchestrator.backbone.url if orchestrator.backbone else '?'}; scripted model at {model.url}\n\n")
        terminal = TerminalChannel(orchestrator, "demo", out=out)
        asked = terminal.watch(lambda event: isinstance(event, ConfirmationRequested))
        out.write(f"you> {REQUEST}\n")
        await terminal.say(REQUEST)
        await asyncio.wait_for(asked, 300)
        ended = terminal.watch(lambda event: isinstance(event, REQUEST_ENDED))
        out.write("you> yes\n")
        await terminal.say("yes")
        final = await asyncio.wait_for(ended, 600)
        changed = _print_changes(before, snapshot(root), out)
        request_id = str(getattr(final, "request_id", ""))  # every REQUEST_ENDED event carries one
        log_paths = orchestrator.task_log.paths_of(request_id)
    out.write("\nTask log (the same file under each project the request touched):\n" + "".join(f"  {path}\n" for path in log_paths))
    out.write(f"Timeline: tunnels --root {root} replay {request_id}\n")
    ok = isinstance(final, RequestCompleted) and final.failed == 0 and bool(changed)
    out.write("\nDemo finished.\n" if ok else "\nDemo did not finish as expected.\n")
    return 0 if ok else 1
