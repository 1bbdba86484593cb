"""Fan-out with warm agents, side by side in one run: 8 agents x 5 s of model time.

    .venv/bin/python bench/warm_fanout.py [ROUNDS]     # default 3 (plus one warm-up each)

Three systems against the same scripted model server and the same Claude Code CLI:

- **bare gather**: eight plain `claude_agent_sdk.query()` calls under one `asyncio.gather`, each
  in its own workspace folder, whose one model answer (text) comes after `delay_s: 5`;
- **ours, cold**: the orchestrator with `limits.max_warm_agents: 0`: a plan of 8 independent
  tasks (one phase), each agent's one answer (its structured TaskResult) after 5 s;
- **ours, warm**: the same with `max_warm_agents: 8`: phase 1's sessions start while the plan
  waits for approval. The bench waits until the 8 are started before it approves (a person
  reading the plan takes longer than that); the time they took is printed apart.

The figure compared is what a person waits for after saying yes: approval (the approving
message sent) -> the request's end; for the baseline, the gather's start -> its end. Its ratio to
the 5 s of model time is printed (1.00 would be a free start-up). CPU: the CPU time of the child
processes reaped in the run (the CLIs; `RUSAGE_CHILDREN`), per CLI (ours counts its planner's
session too: 9 CLIs a request). Medians over the rounds, (min-max) in brackets; the load average
is printed before and after, since other work on the machine skews every figure.
"""

from __future__ import annotations

import asyncio
import io
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import lay_out_tree, machine, med, planner_script, router_script, running, workspace_script
from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario

PROJECTS = {"alpha": ["core", "api", "worker", "web"], "beta": ["core", "api", "worker", "web"]}
WORKSPACES = [f"{p}/{w}" for p, ws in PROJECTS.items() for w in ws]
DELAY_S = 5.0


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def bare_round(root: Path, model: ScriptedModelServer, n: int) -> dict[str, float]:
    async def one(workspace: str) -> None:
        options = ClaudeAgentOptions(cwd=str(root / workspace), env=model.env(), max_turns=1)
        async for message in query(prompt=f"Bare task {n} for {workspace}.\nBare: {workspace}\n", options=options):
            if isinstance(message, ResultMessage) and message.is_error:
                raise RuntimeError(f"bare session failed: {message.result}")

    cpu, began = children_cpu(), time.perf_counter()
    await asyncio.gather(*(one(w) for w in WORKSPACES))
    wall = time.perf_counter() - began
    return {"wall": wall, "ratio": wall / DELAY_S, "cpu_per_cli": (children_cpu() - cpu) / len(WORKSPACES)}


async def our_round(bench: Any, n: int, warm: bool) -> dict[str, float]:
    terminal = TerminalChannel(bench.orchestrator, f"bench{n}{'w' if warm else 'c'}", out=io.StringIO(), show_progress=False)
    cpu = children_cpu()
    asked = terminal.watch(lambda e: isinstance(e, ConfirmationRequested))
    proposed = time.perf_counter()
    await terminal.say(f"Bump the logging setup in alpha and beta (round {n})")
    await asyncio.wait_for(asked, 180)
    warm_s = 0.0
    if warm:
        pool = bench.orchestrator.tasks.executors["local"].warm
        entries = await asyncio.wait_for(pool.wait_for(lambda e: len(e) == len(WORKSPACES)), 180)
        await asyncio.gather(*(e.ready() for e in entries.values()))
        warm_s = time.perf_counter() - proposed
    ended = terminal.watch(lambda e: isinstance(e, REQUEST_ENDED))
    began = time.perf_counter()
    await terminal.say("yes")
    final = await asyncio.wait_for(ended, 180)
    wall = time.perf_counter() - began
    if not isinstance(final, RequestCompleted) or final.succeeded != len(WORKSPACES):
        raise RuntimeError(f"round {n} did not run {len(WORKSPACES)} tasks: {final}")
    return {"wall": wall, "ratio": wall / DELAY_S, "cpu_per_cli": (children_cpu() - cpu) / (len(WORKSPACES) + 1), "warm_s": warm_s}


def spread(values: list[float], digits: int = 2) -> str:
    return f"{med(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


async def main(rounds: int) -> None:
    print(f"machine: {machine()} at the start", flush=True)
    results: dict[str, list[dict[str, float]]] = {"bare gather": [], "ours, cold": [], "ours, warm": []}
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        bare_root = lay_out_tree(Path(tmp) / "bare", PROJECTS)
        bare = [{"name": f"bare-{w}", "match": [f"Bare: {w}\n"], "turns": [{"text": "done", "delay_s": DELAY_S}]} for w in WORKSPACES]
        async with ScriptedModelServer(parse_scenario(__import__("json").dumps({"scripts": bare}))) as model:
            for n in range(rounds + 1):
                r = await bare_round(bare_root, model, n)
                print(f"bare gather {'warm-up' if n == 0 else n}: {r['wall']:.2f} s ({r['ratio']:.2f}x)", flush=True)
                if n:
                    results["bare gather"].append(r)
        scripts = [router_script(["alpha", "beta"]), planner_script("Bump the logging setup", [(w, []) for w in WORKSPACES]),
                   *(workspace_script(w, DELAY_S) for w in WORKSPACES)]
        for label, warm in (("ours, cold", False), ("ours, warm", True)):
            limits = {"max_parallel_agents": len(WORKSPACES), "max_warm_agents": len(WORKSPACES) if warm else 0}
            async with running(Path(tmp) / label.replace(", ", "-"), PROJECTS, scripts, limits) as bench:
                for n in range(rounds + 1):
                    r = await our_round(bench, n, warm)
                    print(f"{label} {'warm-up' if n == 0 else n}: {r['wall']:.2f} s ({r['ratio']:.2f}x)", flush=True)
                    if n:
                        results[label].append(r)
    print(f"machine: {machine()} at the end\n")
    base = med([r["wall"] for r in results["bare gather"]])
    print(f"8 agents x 5 s, medians over {rounds} rounds (min-max)")
    print(f"{'system':<12}  {'approval -> end, s':>20}  {'x of 5 s':>18}  {'vs bare':>7}  {'CPU s per CLI':>18}")
    for label, rows in results.items():
        walls = [r["wall"] for r in rows]
        print(f"{label:<12}  {spread(walls):>20}  {spread([r['ratio'] for r in rows]):>18}  {med(walls) / base:>7.2f}  "
              f"{spread([r['cpu_per_cli'] for r in rows]):>18}")
    warm_s = [r["warm_s"] for r in results["ours, warm"]]
    print(f"\nwarm-up before approval (plan shown -> 8 sessions started): {spread(warm_s)} s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
