"""Fan-out: 8 workspace agents in one phase, each scripted to take 5 s; wall time and memory.

    .venv/bin/python bench/fanout.py [ROUNDS]     # default 3 (plus one warm-up)

The tree has two projects (alpha, beta) of four workspaces each; the scripted planner answers
with 8 independent tasks (one phase), every workspace agent's only model answer (its structured
TaskResult, no tool calls) comes after `delay_s: 5`. `limits.max_parallel_agents` is 8, so all
8 Claude Code CLIs run at once. One orchestrator serves every round; each round is a fresh
request in a fresh conversation, after one warm-up request that is not counted. Each round
also runs a reference request: the same task in one workspace alone (a 1-agent phase), so the
price of running 8 at once on this machine shows apart from one CLI's own start-up.

Measured per round, from the events' own `at` times:

- the phase's wall time (`phase.started` -> `phase.completed`) and its ratio to the 5 s each
  agent spends waiting on the model (1.00 would be a perfect fan-out with free start-up);
- where the extra time goes: dispatch latency (`task.dispatched` -> `task.started`), CLI
  start-up (`task.started` -> the agent's model call reaching the scripted server), and the
  finish (the model's answer, i.e. call + 5 s -> `task.succeeded`: streaming, CLI exit, result).

Memory: a background thread samples RSS with psutil every 100 ms from the approving message to
the request's end: this process (the orchestrator, which here also hosts the scripted model
server, as in the end-to-end tests) and all its descendants (the Claude Code CLIs and the
embedded nats-server). Peaks are per round. RSS sums double-count pages shared between the CLI
processes, so the peak total PSS (proportional share) is printed too; reading PSS makes the
kernel walk every mapping of a CLI, so it is taken only every 10th sample (~1 s).

Figures are printed, never asserted: medians over the rounds, (min-max) in brackets.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
import psutil
from _orchestra import Bench, machine, med, planner_script, router_script, running, seconds, spread, workspace_script

from claude_tunnels.events.execution import (
    PhaseCompleted,
    PhaseStarted,
    RequestCompleted,
    WorkspaceTaskDispatched,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)

PROJECTS = {"alpha": ["core", "api", "worker", "web"], "beta": ["core", "api", "worker", "web"]}
WORKSPACES = [f"{p}/{w}" for p, ws in PROJECTS.items() for w in ws]
DELAY_S = 5.0
REQUEST = "Bump the logging setup in alpha and beta (fanout round {n})"
SOLO = "Bump the logging setup in alpha, solo reference (round {n})"
MB = 1024 * 1024


@dataclass
class Peaks:
    """Peak memory (bytes) seen by the sampler, and how many samples it took."""

    total_rss: int = 0
    self_rss: int = 0
    cli_rss: int = 0
    total_pss: int = 0
    processes: int = 0
    samples: int = 0
    cpu_s: float = 0.0


class Sampler(threading.Thread):
    """Samples this process and its descendants every `interval` seconds until stopped."""

    def __init__(self, interval: float = 0.1, pss_every: int = 10) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.pss_every = pss_every
        self.peaks = Peaks()
        self._halt = threading.Event()
        self._me = psutil.Process(os.getpid())

    def run(self) -> None:
        while not self._halt.is_set():
            began = time.monotonic()
            self._sample(with_pss=self.peaks.samples % self.pss_every == 0)
            self._halt.wait(max(0.0, self.interval - (time.monotonic() - began)))
        self.peaks.cpu_s = time.thread_time()

    def _sample(self, with_pss: bool) -> None:
        total = own = self._me.memory_info().rss
        pss = self._pss(self._me.pid) if with_pss else 0
        cli = 0
        children = self._me.children(recursive=True)
        for child in children:
            try:
                rss = child.memory_info().rss
                name = child.name()
                pss += self._pss(child.pid) if with_pss else 0
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue  # a CLI that just exited
            total += rss
            if "nats" not in name:
                cli += rss
        p = self.peaks
        p.total_rss, p.self_rss, p.cli_rss = max(p.total_rss, total), max(p.self_rss, own), max(p.cli_rss, cli)
        p.total_pss, p.processes = max(p.total_pss, pss), max(p.processes, len(children))
        p.samples += 1

    @staticmethod
    def _pss(pid: int) -> int:
        # Costly (the kernel walks every mapping of a CLI), hence only every `pss_every` samples.
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self) -> Peaks:
        self._halt.set()
        self.join()
        return self.peaks


async def one_round(bench: Bench, n: int, text: str = REQUEST, tasks: int = len(WORKSPACES)) -> dict[str, float]:
    """Run one request with the sampler on; return its figures (seconds, bytes)."""
    sampler = Sampler()
    final, approval = await bench.approved_request(text.format(n=n), timeout=180, on_approve=sampler.start)
    peaks = sampler.stop()
    if not isinstance(final, RequestCompleted) or final.succeeded != tasks:
        raise RuntimeError(f"round {n} did not run {tasks} tasks: {final}")
    await asyncio.sleep(0.2)  # let the last events reach the listener
    events = [s.event for s in bench.of_request(final.request_id)]
    of = lambda cls: [e for e in events if isinstance(e, cls)]
    [started], [ended] = of(PhaseStarted), of(PhaseCompleted)
    dispatched = {e.task_id: e for e in of(WorkspaceTaskDispatched)}
    begun = {e.task_id: e for e in of(WorkspaceTaskStarted)}
    done = {e.task_id: e for e in of(WorkspaceTaskSucceeded)}
    boot, finish, latency, agent, reap = [], [], [], [], []
    for t, d in dispatched.items():
        [call] = [at for at in bench.calls_for(d.workspace, begun[t].at) if at <= done[t].at]
        latency.append(seconds(begun[t].at, d.at))
        boot.append(seconds(call, begun[t].at))
        finish.append(seconds(done[t].at, call) - DELAY_S)
        agent.append(seconds(done[t].at, begun[t].at))
        reap.append(bench.close_of(d.workspace, begun[t].at, done[t].at))
    span = seconds(ended.at, started.at)
    return {
        "span": span, "ratio": span / DELAY_S, "extra": span - DELAY_S, "agent_med": med(agent), "agent_max": max(agent),
        "dispatch_med": med(latency), "dispatch_max": max(latency), "boot_med": med(boot), "boot_max": max(boot),
        "finish_med": med(finish), "finish_max": max(finish), "reap_med": med(reap), "tail": seconds(ended.at, max(e.at for e in done.values())),
        "total_rss": peaks.total_rss, "self_rss": peaks.self_rss, "cli_rss": peaks.cli_rss, "total_pss": peaks.total_pss,
        "processes": peaks.processes, "samples": peaks.samples, "sampler_cpu": peaks.cpu_s, "approval_to_end": seconds(final.at, approval.at),
    }


TIME_ROWS = [
    ("span", "phase wall time (phase.started -> phase.completed)", 1000, "ms"),
    ("ratio", "  ratio to the 5 s agent delay", 1, "x"),
    ("extra", "  extra over 5 s", 1000, "ms"),
    ("solo_span", "reference: the same phase with 1 agent", 1000, "ms"),
    ("solo_boot", "reference: CLI start-up of that lone agent", 1000, "ms"),
    ("fan_cost", "8 agents' phase - 1 agent's phase (price of the fan-out)", 1000, "ms"),
    ("agent_med", "agent time, median task (task.started -> succeeded)", 1000, "ms"),
    ("agent_max", "agent time, slowest task", 1000, "ms"),
    ("dispatch_med", "dispatch latency, median task (dispatched -> started)", 1000, "ms"),
    ("dispatch_max", "dispatch latency, slowest task", 1000, "ms"),
    ("boot_med", "CLI start-up, median task (started -> model call)", 1000, "ms"),
    ("boot_max", "CLI start-up, slowest task", 1000, "ms"),
    ("finish_med", "finish, median task (answer sent -> task.succeeded)", 1000, "ms"),
    ("finish_max", "finish, slowest task", 1000, "ms"),
    ("reap_med", "  of which result in hand -> CLI exited, median", 1000, "ms"),
    ("tail", "last task.succeeded -> phase.completed", 1000, "ms"),
]
MEMORY_ROWS = [
    ("total_rss", "peak RSS, orchestrator + all children", 1 / MB, "MiB"),
    ("self_rss", "peak RSS, orchestrator process only", 1 / MB, "MiB"),
    ("cli_rss", "peak RSS, the Claude Code CLIs only", 1 / MB, "MiB"),
    ("total_pss", "peak PSS, orchestrator + all children (every ~1 s)", 1 / MB, "MiB"),
    ("processes", "peak child processes (CLIs + nats-server)", 1, ""),
    ("samples", "samples taken (aimed at every 100 ms)", 1, ""),
    ("sampler_cpu", "CPU time spent by the sampler thread", 1000, "ms"),
]


def print_table(rounds: list[dict[str, float]]) -> None:
    rows = TIME_ROWS + MEMORY_ROWS
    width = max(len(label) for _, label, _, _ in rows)
    print(f"\nFan-out: {len(WORKSPACES)} agents in one phase, each 5 s on the model, max_parallel_agents={len(WORKSPACES)}")
    print(f"median over {len(rounds)} rounds (min-max in brackets)\n")
    print(f"{'measurement':<{width}}  {'value':>24}  unit")
    print("-" * (width + 32))
    for key, label, scale, unit in rows:
        digits = 2 if unit == "x" else 0
        print(f"{label:<{width}}  {spread([r[key] for r in rounds], scale, digits):>24}  {unit}")


async def main(rounds: int) -> None:
    scripts = [router_script(["alpha", "beta"]), planner_script("Bump the logging setup", [(w, []) for w in WORKSPACES]),
               planner_script("Bump the logging setup (solo)", [(WORKSPACES[0], [])], match="solo reference"),
               *(workspace_script(w, DELAY_S) for w in WORKSPACES)]
    print(f"machine: {machine()} at the start", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        async with running(Path(tmp), PROJECTS, scripts, {"max_parallel_agents": len(WORKSPACES)}) as bench:
            results = []
            for n in range(rounds + 1):
                r = await one_round(bench, n)
                tag = "warm-up, not counted" if n == 0 else f"round {n}/{rounds}"
                print(f"{tag}: phase {r['span']*1000:.0f} ms ({r['ratio']:.2f}x of 5 s), "
                      f"peak RSS total {r['total_rss']/MB:.0f} MiB, orchestrator {r['self_rss']/MB:.0f} MiB", flush=True)
                if n:
                    solo = await one_round(bench, n, SOLO, tasks=1)
                    r.update(solo_span=solo["span"], solo_boot=solo["boot_med"], fan_cost=r["span"] - solo["span"])
                    print(f"  solo reference: phase {solo['span']*1000:.0f} ms", flush=True)
                    results.append(r)
    print(f"machine: {machine()} at the end")
    print_table(results)
    pick = lambda key: med([r[key] for r in results])
    print(f"\nSummary: 8 x 5 s agents in one phase took {pick('span'):.2f} s median ({pick('ratio'):.2f}x the 5 s ideal; "
          f"1 agent alone {pick('solo_span'):.2f} s); "
          f"peak RSS {pick('total_rss')/MB:.0f} MiB total (orchestrator alone {pick('self_rss')/MB:.0f} MiB) "
          f"over {len(results)} rounds (fresh request per round, one orchestrator).")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
