"""Orchestration overhead of a 3-phase, 10-task request whose agents answer at once.

    .venv/bin/python bench/orchestration_overhead.py [ROUNDS] [--workspaces N] [--json]
    # ROUNDS: default 5 (plus one warm-up); N: workspaces in the tree, default 10

The tree has two projects (alpha, beta) of five workspaces each; with `--workspaces N` (a
multiple of 10) it also holds (N - 10) / 10 generated projects of ten workspaces, each with an
ordinary CLAUDE.md and a manifest (`tunnels.demo.large_tree`): the tasks are the same, only the
tree around them grows (`bench/discovery_scale.py` runs 10 / 100 / 1,000 on two checkouts). The
scripted planner answers with 10 tasks whose `depends_on` make 3 phases (3 / 4 / 3 tasks); every
workspace agent answers its first model call with its structured TaskResult, no tool calls, no
delay. The scripted router answers alpha and beta. `limits.max_parallel_agents` is 4, the widest
phase. One orchestrator serves every round; each round is a fresh request in a fresh
conversation (`terminal:benchN`), after one warm-up request that is not counted. `--json` ends
the output with one line `RESULT {...}`: the medians (seconds) of every figure.

What counts as overhead (all times are the events' own `at`, from the orchestrator's clock):

- The request's wall time runs from the approving message (`message.received` "yes") to
  `request.completed`.
- A task's *agent time* is `task.started` -> `task.succeeded`: the whole Claude Code session
  (spawning the CLI, its start-up, the model round trips to the scripted server, its exit). It is
  the agents' own work, not overhead, even though it includes the CLI's start-up cost.
- A phase's *critical path* is its longest task; the request's is the sum over phases.
- Overhead = wall time - critical path. It splits exactly into: approval (the message ->
  `plan.approved`), the start (`plan.approved` -> first `phase.started`), per phase
  (`phase.completed - phase.started` - longest task), the gaps between phases
  (`phase.completed` -> next `phase.started`), and the end (last `phase.completed` ->
  `request.completed`).
- Agent time also holds two things the orchestrator does around the session: the
  `task.started` append (its `at` is stamped before it) and, after the CLI sent its result,
  waiting for the CLI process to exit (`_Session.close`). The bench times the latter (by
  wrapping that method) and prints it, and the overhead with those waits counted in.
- Inside a phase, dispatch latency is `task.dispatched` -> `task.started` (the dispatcher
  delivering the event after those before it, the workspace actor's thread starting, the hop
  back to the loop, the workspace lock and agent slot, the tree read), and the tail is the phase's last `task.succeeded` -> `phase.completed`.

Figures are printed, never asserted: medians over the rounds, (min-max) in brackets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import Bench, machine, med, planner_script, router_script, running, seconds, spread, workspace_script

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.execution import (
    PhaseCompleted,
    PhaseStarted,
    RequestCompleted,
    WorkspaceTaskDispatched,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.planning import PlanApproved
from claude_tunnels.tunnels.demo.large_tree import lay_out_large

PROJECTS = {"alpha": ["core", "proto", "api", "worker", "web"], "beta": ["core", "proto", "api", "worker", "web"]}
TASKS: list[tuple[str, list[str]]] = [
    ("alpha/core", []), ("alpha/proto", []), ("beta/core", []),                               # phase 1
    ("alpha/api", ["alpha/core"]), ("alpha/worker", ["alpha/proto"]),                         # phase 2
    ("beta/proto", ["beta/core"]), ("beta/api", ["beta/core", "alpha/proto"]),
    ("alpha/web", ["alpha/api"]), ("beta/worker", ["beta/api"]), ("beta/web", ["beta/proto", "alpha/api"]),  # phase 3
]
WIDEST = 4
REQUEST = "Move alpha and beta to the new wire protocol (bench round {n})"


def measure(bench: Bench, request_id: str, approval: AnyEvent) -> dict[str, float]:
    """The figures (seconds) of one request from its events and the model calls its agents made."""
    events = bench.of_request(request_id)
    of = lambda cls: [s.event for s in events if isinstance(s.event, cls)]
    [approved] = of(PlanApproved)
    [completed] = of(RequestCompleted)
    started = {e.phase: e for e in of(PhaseStarted)}
    ended = {e.phase: e for e in of(PhaseCompleted)}
    dispatched = {e.task_id: e for e in of(WorkspaceTaskDispatched)}
    begun = {e.task_id: e for e in of(WorkspaceTaskStarted)}
    done = {e.task_id: e for e in of(WorkspaceTaskSucceeded)}
    if len(done) != len(TASKS) or sorted(started) != [1, 2, 3]:
        raise RuntimeError(f"request {completed.request_id} did not run 10 tasks in 3 phases: {completed.summary}")
    f: dict[str, float] = {
        "wall": seconds(completed.at, approval.at),
        "approval": seconds(approved.at, approval.at),
        "start": seconds(started[1].at, approved.at),
        "end": seconds(completed.at, ended[3].at),
    }
    critical = reap_critical = 0.0
    latencies: list[float] = []
    boot: list[float] = []
    finish: list[float] = []
    calls: list[float] = []
    reap: list[float] = []
    for p in (1, 2, 3):
        ids = [t for t, d in dispatched.items() if d.phase == p]
        agent = [seconds(done[t].at, begun[t].at) for t in ids]
        longest = ids[agent.index(max(agent))]
        reap_critical += bench.close_of(dispatched[longest].workspace, begun[longest].at, done[longest].at)
        lat = [seconds(begun[t].at, dispatched[t].at) for t in ids]
        latencies += lat
        for t in ids:
            made = [at for at in bench.calls_for(dispatched[t].workspace, begun[t].at) if at <= done[t].at]
            calls.append(len(made))
            boot.append(seconds(made[0], begun[t].at))
            finish.append(seconds(done[t].at, made[-1]))
            reap.append(bench.close_of(dispatched[t].workspace, begun[t].at, done[t].at))
        span = seconds(ended[p].at, started[p].at)
        critical += max(agent)
        f[f"p{p}.wall"] = span
        f[f"p{p}.longest"] = max(agent)
        f[f"p{p}.agent_med"] = med(agent)
        f[f"p{p}.overhead"] = span - max(agent)
        f[f"p{p}.dispatch_med"] = med(lat)
        f[f"p{p}.dispatch_max"] = max(lat)
        f[f"p{p}.fanout"] = max(seconds(dispatched[t].at, started[p].at) for t in ids)
        f[f"p{p}.tail"] = seconds(ended[p].at, max(done[t].at for t in ids))
        if p < 3:
            f[f"gap{p}"] = seconds(started[p + 1].at, ended[p].at)
    f["critical"] = critical
    f["overhead"] = f["wall"] - critical
    f["overhead_reap"] = f["overhead"] + reap_critical
    f["dispatch_med"] = med(latencies)
    f["dispatch_max"] = max(latencies)
    f["boot"], f["finish"], f["calls"], f["reap"] = med(boot), med(finish), med(calls), med(reap)
    return f


ROWS: list[tuple[str, str]] = [
    ("wall", "request wall time (approval msg -> request.completed)"),
    ("critical", "  agents' critical path (sum of longest task per phase)"),
    ("overhead", "  ORCHESTRATION OVERHEAD (wall - critical path)"),
    ("approval", "    approval msg -> plan.approved"),
    ("start", "    plan.approved -> phase 1 started"),
    ("p1.overhead", "    phase 1 overhead (span - longest task)"),
    ("gap1", "    phase 1 completed -> phase 2 started"),
    ("p2.overhead", "    phase 2 overhead"),
    ("gap2", "    phase 2 completed -> phase 3 started"),
    ("p3.overhead", "    phase 3 overhead"),
    ("end", "    phase 3 completed -> request.completed"),
    ("overhead_reap", "  overhead + the critical path's waits for a CLI to exit"),
]
for _p in (1, 2, 3):
    ROWS += [
        (f"p{_p}.wall", f"phase {_p} span (phase.started -> phase.completed)"),
        (f"p{_p}.longest", "  longest task (task.started -> task.succeeded)"),
        (f"p{_p}.agent_med", "  median task agent time"),
        (f"p{_p}.fanout", "  phase.started -> last task.dispatched"),
        (f"p{_p}.dispatch_med", "  dispatch latency, median task (dispatched -> started)"),
        (f"p{_p}.dispatch_max", "  dispatch latency, slowest task"),
        (f"p{_p}.tail", "  last task.succeeded -> phase.completed"),
    ]
ROWS += [
    ("dispatch_med", "dispatch latency, median of all 10 tasks"),
    ("dispatch_max", "dispatch latency, slowest of all 10 tasks"),
    ("boot", "inside agent time: task.started -> its 1st model call (CLI start-up)"),
    ("finish", "inside agent time: its last model call -> task.succeeded (answer, CLI exit)"),
    ("reap", "  of which: result in hand -> CLI exited (session close)"),
]


def print_table(rounds: list[dict[str, float]]) -> None:
    width = max(len(label) for _, label in ROWS)
    print("\nOrchestration overhead, 10 tasks in 3 phases (3/4/3), scripted agents answering at once")
    print(f"milliseconds: median over {len(rounds)} rounds (min-max in brackets)\n")
    print(f"{'measurement':<{width}}  {'ms':>22}")
    print("-" * (width + 24))
    for key, label in ROWS:
        print(f"{label:<{width}}  {spread([r[key] for r in rounds], 1000):>22}")


async def main(rounds: int, workspaces: int = 10, as_json: bool = False) -> None:
    if workspaces < 10 or workspaces % 10:
        raise SystemExit("--workspaces must be a multiple of 10, at least 10")
    scripts = [router_script(["alpha", "beta"]), planner_script("Move to the new wire protocol", TASKS), *(workspace_script(w) for w, _ in TASKS)]
    print(f"machine: {machine()} at the start; {workspaces} workspaces in the tree", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        if workspaces > 10:
            lay_out_large(Path(tmp) / "tree", (workspaces - 10) // 10, 10)
        async with running(Path(tmp), PROJECTS, scripts, {"max_parallel_agents": WIDEST}) as bench:
            results: list[dict[str, float]] = []
            for n in range(rounds + 1):
                began = time.perf_counter()
                final, approval = await bench.approved_request(REQUEST.format(n=n))
                if not isinstance(final, RequestCompleted):
                    raise RuntimeError(f"round {n} ended with {final.type}: {final}")
                await asyncio.sleep(0.2)  # let the last events reach the listener
                figures = measure(bench, final.request_id, approval)
                tag = "warm-up, not counted" if n == 0 else f"round {n}/{rounds}"
                print(f"{tag}: wall {figures['wall']*1000:.0f} ms, critical path {figures['critical']*1000:.0f} ms, "
                      f"overhead {figures['overhead']*1000:.0f} ms  ({time.perf_counter() - began:.1f} s with planning)", flush=True)
                if n:
                    results.append(figures)
    load = machine()
    print(f"machine: {load} at the end")
    print_table(results)
    print(f"(model calls per workspace session: {med([r['calls'] for r in results]):.0f})")
    over, wall = med([r["overhead"] for r in results]), med([r["wall"] for r in results])
    phases = sum(med([r[f"p{p}.overhead"] for r in results]) for p in (1, 2, 3))
    print(f"\nSummary: 3-phase/10-task request on a {workspaces}-workspace tree: overhead {over*1000:.0f} ms median of "
          f"{wall*1000:.0f} ms wall ({over/wall:.0%}); {phases*1000:.0f} ms of it inside phases, median dispatch latency "
          f"{med([r['dispatch_med'] for r in results])*1000:.0f} ms ({len(results)} rounds, fresh request per round, one orchestrator).")
    if as_json:
        medians = {key: med([r[key] for r in results]) for key in results[0]}
        print("RESULT " + json.dumps({"workspaces": workspaces, "rounds": len(results), "load_end": load, **medians}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.workspaces, args.json))
