"""Threads and memory of 1,000 conversations waiting for a plan approval: idle conversation actors
retired (ours) against kept (the baseline: one actor thread per conversation ever seen).

    .venv/bin/python bench/idle_conversations.py [CONVERSATIONS] [--rounds 1] [--cli]   # default 1000

Each variant runs in its own process (a fresh interpreter with its own nats-server), one after the
other, so that memory one variant held does not stay in the other's figures. In each:

- start an orchestrator on a two-project tree (`bench/_orchestra.running`); measure the process
  (psutil: threads, resident and virtual memory): *idle*;
- open CONVERSATIONS conversations (`terminal:idleN`, 100 unanswered at a time), each with a request
  naming project alpha (the scripted router answers at once) that the scripted planner answers with
  a one-task plan, and wait until every one has its confirmation requested: *pending*;
- say "status" in each conversation and wait for every answer, which the conversation's actor
  decides from the sessions projection (with retirement, a fresh actor per conversation): *answered*.

Before each measurement, with retirement, the threads of the conversation actors are waited for
(each retires once its last delivery is handled), so the figures are settled. The baseline keeps
every conversation's actor (`Directory(..., retire_idle=False)`, patched into the composition root
for its process).

The planner: by default its consultation is answered in this process from the same scripted
scenario the model server plays (`choose_script`: the matching script's first turn), not by a
Claude Code CLI per request: 1,000 CLI runs cost about 0.75 CPU-s each (some 12 minutes of CPU)
and tell nothing about the actors. `--cli` sends them through the CLI to the scripted model
server instead, as the end-to-end tests do (4 conversations unanswered at a time, not 100).

Figures are printed, never asserted: medians over the rounds, (min-max) in brackets when rounds > 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)
import psutil
from _orchestra import ScriptedAdvisors, machine, planner_script, router_script, running, spread

from claude_tunnels.actors.reactions import Directory
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested, NoticeIssued
from claude_tunnels.events.execution import RequestFailed
from claude_tunnels.tunnels.runtime import orchestrator as composition
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import parse_scenario

PROJECTS = {"alpha": ["core"], "beta": ["core"]}
SCRIPTS = [router_script(["alpha"]), planner_script("Tidy up alpha", [("alpha/core", [])])]
WINDOW = 100
CLI_WINDOW = 4  # planner CLIs at once with --cli: each is a Node process
WAIT_S = 300.0
VARIANTS = {"kept": False, "retired": True}  # name -> retire_idle


class Crowd:
    """Many conversations driven at once through `post_message`, watched by one listener."""

    def __init__(self, orchestrator: Orchestrator, size: int, window: int) -> None:
        self.orchestrator = orchestrator
        self.window = window
        self.keys = [f"terminal:idle{n}" for n in range(size)]
        self._waiting: dict[str, tuple[type, asyncio.Future[AnyEvent]]] = {}
        orchestrator.add_listener(self._on_event)

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        waiting = self._waiting.get(event.session_key)
        if waiting is None or waiting[1].done():
            return
        if isinstance(event, waiting[0]):
            waiting[1].set_result(event)
        elif isinstance(event, RequestFailed):
            waiting[1].set_exception(RuntimeError(f"{event.session_key}: the request failed: {event.reason}"))

    async def say_in_each(self, text: Callable[[int], str], until: type, tag: str) -> float:
        """Say `text(n)` in conversation n (at most `window` unanswered at a time); the seconds
        until every conversation saw an `until` event."""
        loop = asyncio.get_running_loop()
        window = asyncio.Semaphore(self.window)

        async def one(n: int, key: str) -> None:
            async with window:
                future: asyncio.Future[AnyEvent] = loop.create_future()
                self._waiting[key] = (until, future)
                await self.orchestrator.post_message(
                    session_key=key, channel="terminal", sender=key, text=text(n), message_ref=f"{key}-{tag}",
                )
                await asyncio.wait_for(future, WAIT_S)

        began = time.perf_counter()
        await asyncio.gather(*(one(n, key) for n, key in enumerate(self.keys)))
        return time.perf_counter() - began


async def settle(retire_idle: bool) -> None:
    """With retirement, wait (polling, at most 10 s) for every conversation actor's thread to end:
    each retires once its last delivery is handled, a moment after its answer is seen. Never
    blocks the loop: an actor may still be waiting on it for an append."""
    deadline = time.monotonic() + 10
    while retire_idle and time.monotonic() < deadline:
        if not any(thread.name.startswith("ChannelSession-") for thread in threading.enumerate()):
            return
        await asyncio.sleep(0.01)


async def snapshot(figures: dict[str, float], stage: str, directory: Directory, retire_idle: bool) -> None:
    await settle(retire_idle)
    process = psutil.Process()
    memory = process.memory_info()
    figures[f"threads.{stage}"] = process.num_threads()
    figures[f"rss.{stage}"] = memory.rss / 2**20
    figures[f"vms.{stage}"] = memory.vms / 2**30
    figures[f"actors.{stage}"] = directory.conversations.alive()


async def one_variant(retire_idle: bool, conversations: int, cli: bool) -> dict[str, float]:
    """The figures of one orchestrator (this process) with or without retirement."""
    composition.Directory = partial(Directory, retire_idle=retire_idle)  # type: ignore[assignment,misc]
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        async with running(Path(tmp), PROJECTS, SCRIPTS, {}) as bench:
            orchestrator = bench.orchestrator
            assert orchestrator.ctx is not None and orchestrator.directory is not None
            if not cli:
                orchestrator.ctx.advisors = ScriptedAdvisors(parse_scenario(json.dumps({"scripts": SCRIPTS})))
            directory, crowd = orchestrator.directory, Crowd(orchestrator, conversations, CLI_WINDOW if cli else WINDOW)
            await snapshot(figures, "idle", directory, retire_idle)
            figures["open_s"] = await crowd.say_in_each(lambda n: f"Tidy up alpha (conversation {n})", ConfirmationRequested, "ask")
            await snapshot(figures, "pending", directory, retire_idle)
            figures["status_s"] = await crowd.say_in_each(lambda n: "status", NoticeIssued, "status")
            await snapshot(figures, "answered", directory, retire_idle)
            figures["started"] = directory.conversations.started
    return figures


def run_child(variant: str, conversations: int, cli: bool) -> dict[str, float]:
    command = [sys.executable, __file__, str(conversations), "--variant", variant, *(["--cli"] if cli else [])]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))  # type: ignore[no-any-return]


ROWS: list[tuple[str, str, int]] = [  # key, label, digits
    ("threads.idle", "threads, orchestrator idle", 0),
    ("threads.pending", "threads, {n} conversations pending approval", 0),
    ("threads.answered", "threads, after a status answer in each", 0),
    ("actors.pending", "conversation actors alive, pending approval", 0),
    ("started", "conversation actors started in all", 0),
    ("rss.idle", "resident memory MiB, idle", 0),
    ("rss.pending", "resident memory MiB, pending approval", 0),
    ("rss.answered", "resident memory MiB, after the status answers", 0),
    ("vms.idle", "virtual memory GiB, idle", 2),
    ("vms.pending", "virtual memory GiB, pending approval", 2),
    ("vms.answered", "virtual memory GiB, after the status answers", 2),
    ("open_s", "seconds to open the {n} requests (to confirmation.requested)", 1),
    ("status_s", "seconds for {n} status answers", 1),
]


def figure(values: list[float], digits: int) -> str:
    """One value, or `median (min-max)` of several."""
    return f"{values[0]:.{digits}f}" if len(values) == 1 else spread(values, 1.0, digits)


def print_table(results: dict[str, list[dict[str, float]]], conversations: int) -> None:
    rounds = len(results["kept"])
    print(f"\nIdle conversations: {conversations} requests pending plan approval, "
          f"{rounds} round{'s' if rounds != 1 else ''} per variant (median, min-max when more than one)")
    labels = [label.format(n=conversations) for _, label, _ in ROWS]
    width = max(map(len, labels))
    header = f"{'measurement':<{width}}  {'kept (baseline)':>22}  {'retired (ours)':>22}  {'ours/base':>9}"
    print(header)
    print("-" * len(header))
    for (key, _, digits), label in zip(ROWS, labels, strict=True):
        kept = [r[key] for r in results["kept"]]
        ours = [r[key] for r in results["retired"]]
        base = sorted(kept)[len(kept) // 2]
        ratio = f"{sorted(ours)[len(ours) // 2] / base:.2f}" if base else "-"
        print(f"{label:<{width}}  {figure(kept, digits):>22}  {figure(ours, digits):>22}  {ratio:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conversations", nargs="?", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cli", action="store_true", help="plan through the Claude Code CLI and the scripted model server")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # a child: one orchestrator, its figures on one line
        figures = asyncio.run(one_variant(VARIANTS[args.variant], args.conversations, args.cli))
        print("RESULT " + json.dumps(figures), flush=True)
        return
    print(f"machine: {machine()} at the start", flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for n in range(1, args.rounds + 1):
        for name in VARIANTS:
            figures = run_child(name, args.conversations, args.cli)
            results[name].append(figures)
            print(f"round {n}/{args.rounds}, {name}: {figures['threads.pending']:.0f} threads and "
                  f"{figures['vms.pending']:.2f} GiB virtual with {args.conversations} pending "
                  f"({figures['open_s']:.1f} s to open them)", flush=True)
    print(f"machine: {machine()} at the end")
    print_table(results, args.conversations)
    kept, ours = (results[name][len(results[name]) // 2] for name in ("kept", "retired"))
    print(f"\nSummary: {args.conversations} conversations pending approval hold {ours['threads.pending']:.0f} threads, "
          f"{ours['vms.pending']:.2f} GiB virtual and {ours['rss.pending']:.0f} MiB resident with idle actors retired, "
          f"against {kept['threads.pending']:.0f} threads, {kept['vms.pending']:.2f} GiB and {kept['rss.pending']:.0f} MiB "
          f"with one kept per conversation (idle orchestrator: {ours['threads.idle']:.0f} threads).")


if __name__ == "__main__":
    main()
