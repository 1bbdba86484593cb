"""Resident memory over many sequential requests in one orchestrator process: finished requests
leave memory (ours) against every request kept (the baseline, same run).

    .venv/bin/python bench/flat_memory.py [REQUESTS] [--model instant|inside|outside] [--rounds 1]

Each variant runs in its own process (a fresh interpreter with its own nats-server), one after the
other. In each, an orchestrator on a two-project tree (`bench/_orchestra.running`) takes REQUESTS
requests (default 1,000), one after the other, from ten conversations in turn: each names project
alpha, gets a one-task plan, is approved ("yes") and runs its task to the end before the next is
said. The resident memory (psutil, after a `gc.collect()`) is taken after the 100th request and
every 100 after it; the figure that matters is the last one minus the 100th (the warm-up).

`--model` says who answers:
- `instant` (default): the router and planner in this process from the scripted scenario, and the
  workspace task answered at once (its Claude Code run replaced by its result): everything the
  orchestrator does per request except the CLI, which is another process and holds no memory here.
- `inside`: the real Claude Code CLI for the planner and every task, against the scripted model
  server running in this process (as `tunnels chat --scripted-model` runs it).
- `outside`: the same with the scripted model server in a process of its own.
With the CLI a request costs about two CLI start-ups (some 1.5 CPU-seconds): use fewer requests.

The baseline keeps every finished request in the requests projection (`RequestsView(...,
keep_finished=None)`), as before finished requests were let go.

`--traced` also follows the Python heap (tracemalloc's current size, about twice as slow): the
resident figure moves by whole allocator arenas, the heap by the byte.

Figures are printed, never asserted: medians over the rounds, (min-max) when rounds > 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)
import psutil
from _orchestra import ScriptedAdvisors, machine, planner_script, router_script, running, spread, workspace_script

from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestFailed
from claude_tunnels.events.values import TaskResult, Usage
from claude_tunnels.projections.views import RequestsView
from claude_tunnels.tunnels import agents, backbone
from claude_tunnels.tunnels.claude.spec import AgentOutcome
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import parse_scenario
from claude_tunnels.tunnels.scripted_model.server import KEEP_REQUESTS

PROJECTS = {"alpha": ["core"], "beta": ["core"]}
SCRIPTS = [router_script(["alpha"]), planner_script("Tidy up alpha", [("alpha/core", [])]), workspace_script("alpha/core")]
CONVERSATIONS = 10
EVERY = 100
WAIT_S = 300.0
VARIANTS = {"kept": None, "let go": "default"}  # name -> keep_finished (None: every request stays)


async def instant_task(spec: Any, *args: Any, **kwargs: Any) -> tuple[TaskResult, AgentOutcome]:
    """A workspace task answered at once (the CLI run it replaces is another process)."""
    result = TaskResult(summary="alpha/core done", changed_files=[], test_result="skip")
    return result, AgentOutcome(text="", structured_output=None, usage=Usage(), session_id="instant")


class Sequential:
    """Requests said one after the other, each approved and waited for to its end."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self._waiting: tuple[str, type | tuple[type, ...], asyncio.Future[AnyEvent]] | None = None
        orchestrator.add_listener(self._on_event)

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        if self._waiting is None or self._waiting[2].done() or event.session_key != self._waiting[0]:
            return
        if isinstance(event, self._waiting[1]):
            self._waiting[2].set_result(event)
        elif isinstance(event, RequestFailed):
            self._waiting[2].set_exception(RuntimeError(f"request failed: {event.reason}"))

    async def _say(self, key: str, text: str, ref: str, until: type | tuple[type, ...]) -> AnyEvent:
        future: asyncio.Future[AnyEvent] = asyncio.get_running_loop().create_future()
        self._waiting = (key, until, future)
        await self.orchestrator.post_message(session_key=key, channel="terminal", sender=key, text=text, message_ref=ref)
        return await asyncio.wait_for(future, WAIT_S)

    async def request(self, n: int) -> None:
        key = f"terminal:seq{n % CONVERSATIONS}"
        await self._say(key, f"in alpha: tidy up, pass {n}", f"ask{n}", ConfirmationRequested)
        await self._say(key, "yes", f"yes{n}", REQUEST_ENDED)


def resident_mib() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def python_heap_mib() -> float:
    """What Python objects take now (tracemalloc, when `--traced`), NaN otherwise: resident memory
    moves by whole allocator arenas and is slow to show a leak of a few kB a request."""
    return tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else float("nan")


async def one_variant(keep_finished: str | None, requests: int, model: str) -> dict[str, Any]:
    """Run the requests in this process; the resident memory every `EVERY` requests."""
    if keep_finished is None:
        backbone.RequestsView = partial(RequestsView, keep_finished=None)  # type: ignore[misc]
    if model == "instant":
        agents.run_workspace_task = instant_task  # type: ignore[assignment]
    limits = {"max_warm_agents": 0}
    figures: dict[str, Any] = {"rss": {}, "heap": {}, "seconds": 0.0}
    with tempfile.TemporaryDirectory(prefix="bench-flat-") as tmp:
        async with AsyncExitStack() as stack:
            env: dict[str, str] = {}
            if model == "outside":
                env = await stack.enter_async_context(_model_process(Path(tmp)))
            keep = KEEP_REQUESTS if model == "inside" else None
            async with running(Path(tmp), PROJECTS, SCRIPTS, limits, keep_requests=keep, agent_env=env or None) as bench:
                orchestrator = bench.orchestrator
                assert orchestrator.ctx is not None
                if model == "instant":
                    orchestrator.ctx.advisors = ScriptedAdvisors(parse_scenario(json.dumps({"scripts": SCRIPTS})))
                bench.seen.clear()
                driver, began = Sequential(orchestrator), time.perf_counter()
                for n in range(1, requests + 1):
                    await driver.request(n)
                    bench.seen.clear()  # the bench's own record of events is not the orchestrator's memory
                    bench.calls.clear()
                    if n % EVERY == 0 or n == requests:
                        figures["rss"][n] = resident_mib()
                        figures["heap"][n] = python_heap_mib()
                        print(f"  {n} requests: {figures['rss'][n]:.1f} MiB resident, {figures['heap'][n]:.2f} MiB Python heap",
                              file=sys.stderr, flush=True)
                figures["seconds"] = time.perf_counter() - began
                figures["in_memory"] = len(orchestrator.ctx.requests.requests)
    return figures


class _model_process:
    """The scripted model server in a process of its own (`tunnels scripted-model`)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.process: subprocess.Popen[str] | None = None

    async def __aenter__(self) -> dict[str, str]:
        scenario = self.tmp / "scenario.json"
        scenario.write_text(json.dumps({"scripts": SCRIPTS}), encoding="utf-8")
        code = ("import asyncio, sys, json\n"
                "from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario\n"
                "async def main():\n"
                "    async with ScriptedModelServer(parse_scenario(open(sys.argv[1]).read()), keep_requests=100) as server:\n"
                "        print(json.dumps(server.env()), flush=True)\n"
                "        await asyncio.Event().wait()\n"
                "asyncio.run(main())\n")
        self.process = subprocess.Popen([sys.executable, "-c", code, str(scenario)], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        return dict(json.loads(line))

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def run_child(variant: str, requests: int, model: str, traced: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, str(requests), "--variant", variant, "--model", model, *(["--traced"] if traced else [])]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, env={**os.environ})
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    figures: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    figures["rss"] = {int(k): v for k, v in figures["rss"].items()}
    figures["heap"] = {int(k): v for k, v in figures["heap"].items()}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model", choices=["instant", "inside", "outside"], default="instant")
    parser.add_argument("--traced", action="store_true", help="also the Python heap (tracemalloc: about twice as slow)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # a child: one orchestrator, its figures on one line
        if args.traced:
            tracemalloc.start(1)
        figures = asyncio.run(one_variant(VARIANTS[args.variant], args.requests, args.model))
        print("RESULT " + json.dumps(figures), flush=True)
        return
    print(f"machine: {machine()} at the start; model: {args.model}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for n in range(1, args.rounds + 1):
        for name in VARIANTS:
            figures = run_child(name, args.requests, args.model, args.traced)
            results[name].append(figures)
            print(f"round {n}/{args.rounds}, {name}: {figures['rss'][max(figures['rss'])]:.1f} MiB after "
                  f"{args.requests} requests ({figures['seconds']:.0f} s)", flush=True)
    print(f"machine: {machine()} at the end")
    first = min(EVERY, args.requests)
    print(f"\nResident memory over {args.requests} sequential requests (model: {args.model}), MiB; "
          f"median (min-max) over {args.rounds} round(s)")
    header = f"{'after request':<16}" + "".join(f"{name:>22}" for name in VARIANTS)
    print(header)
    print("-" * len(header))
    measures = ["rss", "heap"] if args.traced else ["rss"]
    for measure in measures:
        print(f"{'resident' if measure == 'rss' else 'Python heap':<16}")
        for mark in sorted(results["kept"][0][measure]):
            print(f"{mark:<16}" + "".join(f"{spread([r[measure][mark] for r in results[name]], 1.0, 2):>22}" for name in VARIANTS))
        growth = {name: [r[measure][max(r[measure])] - r[measure][first] for r in results[name]] for name in VARIANTS}
        print(f"{'growth after ' + str(first):<16}" + "".join(f"{spread(growth[name], 1.0, 2):>22}" for name in VARIANTS))
        print("-" * len(header))
    kept_in = {name: [r["in_memory"] for r in results[name]] for name in VARIANTS}
    print(f"{'requests held':<16}" + "".join(f"{spread(kept_in[name]):>22}" for name in VARIANTS))


if __name__ == "__main__":
    main()
