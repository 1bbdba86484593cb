"""The price of the OS sandbox: one workspace task with and without it, same run, same machine.

    .venv/bin/python bench/sandbox_cost.py [ROUNDS]     # default 7 (plus one warm-up of each)

One workspace session of the real Claude Code CLI, played by the scripted model, runs five Bash
commands (`ls`, `cat`, `wc`, `grep`, and a test run with `python -m pytest`) and returns its
result. Run through `run_workspace_task` exactly as the orchestrator runs a task, alternately
with the sandbox on (bubblewrap around each command, its network proxy, the read-deny rules of
a tree of 50 sibling workspaces) and off; the order alternates every round so that drift in the
machine's load falls on both.

Measured per task: wall time (`time.perf_counter`) and CPU seconds of the child processes (the
CLI, bubblewrap, socat, the commands), from `resource.getrusage(RUSAGE_CHILDREN)` before and
after (children are reaped when the session ends). Printed: medians (min-max) and the ratio of
the sandboxed task to the unsandboxed one. Never asserted.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)

from claude_tunnels.tunnels.claude import AgentSpec, BashRules, run_workspace_task
from claude_tunnels.tunnels.claude.sandbox import SandboxSpec, check_sandbox
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario

COMMANDS = ["ls -la", "cat data.txt", "wc -l data.txt", "grep -n beta data.txt", f"{sys.executable} -m pytest -q -p no:cacheprovider test_x.py"]


def _scenario() -> str:
    turns: list[dict[str, object]] = [{"tool_uses": [{"name": "Bash", "input": {"command": c}}]} for c in COMMANDS]
    turns.append({"structured_output": {"summary": "ran five commands", "test_result": "pass"}})
    return json.dumps({"scripts": [{"name": "bench", "match": ["BENCH-SANDBOX"], "turns": turns}]})


def _tree(base: Path) -> tuple[Path, Path]:
    root = base / "tree"
    for index in range(50):
        (root / "proj" / f"ws{index:02d}").mkdir(parents=True)
    workspace = root / "proj" / "ws00"
    (workspace / "data.txt").write_text("alpha\nbeta\ngamma\n")
    (workspace / "test_x.py").write_text("def test_x():\n    assert 1 + 1 == 2\n")
    return root, workspace


async def _one(model: ScriptedModelServer, root: Path, workspace: Path, home: Path, sandboxed: bool) -> tuple[float, float]:
    spec = AgentSpec(
        prompt="BENCH-SANDBOX", cwd=workspace, kind="workspace", env=model.env(), sandbox_dir=home, timeout_s=120,
        max_turns=10, bash=BashRules(allow=["ls *", "cat *", "wc *", "grep *", f"{sys.executable} -m pytest *"]),
        sandbox=SandboxSpec() if sandboxed else None, protected=(root,),
    )
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result, outcome = await run_workspace_task(spec)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if outcome.denied or result.summary != "ran five commands":
        raise SystemExit(f"the benchmark task did not run as scripted: {outcome.denied}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _line(name: str, values: list[float]) -> str:
    return f"{name:<28} {statistics.median(values):7.2f} s  ({min(values):.2f}-{max(values):.2f})"


async def main(rounds: int) -> None:
    check = check_sandbox()
    if not check.ok:
        raise SystemExit(f"the OS sandbox cannot run here: {check.problem}")
    figures: dict[tuple[bool, str], list[float]] = {(s, k): [] for s in (True, False) for k in ("wall", "cpu")}
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as folder:
        root, workspace = _tree(Path(folder))
        async with ScriptedModelServer(parse_scenario(_scenario(), "bench")) as model:
            for warm in (True, False):
                await _one(model, root, workspace, Path(folder) / "home", warm)
            for index in range(rounds):
                for sandboxed in ((True, False) if index % 2 == 0 else (False, True)):
                    wall, cpu = await _one(model, root, workspace, Path(folder) / "home", sandboxed)
                    figures[(sandboxed, "wall")].append(wall)
                    figures[(sandboxed, "cpu")].append(cpu)
    print(f"\nOne workspace task with 5 Bash commands, {rounds} rounds each (medians, min-max):")
    for kind, label in (("wall", "wall time"), ("cpu", "CPU of the child processes")):
        on, off = figures[(True, kind)], figures[(False, kind)]
        print(_line(f"{label}, no sandbox", off))
        print(_line(f"{label}, sandbox", on))
        ratio = statistics.median(on) / statistics.median(off)
        extra = (statistics.median(on) - statistics.median(off)) / len(COMMANDS)
        print(f"{'':<28} ratio {ratio:.2f}; {extra * 1000:+.0f} ms per command")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
