"""The orchestration overhead as the tree grows: 10 / 100 / 1,000 workspaces, before and after.

    .venv/bin/python bench/discovery_scale.py [ROUNDS] [--before PYTHON] [--sizes 10,100,1000]

Runs `bench/orchestration_overhead.py` (a 3-phase, 10-task request whose agents answer at once)
on trees of each size, with two interpreters in turn: `--before` (default: the main checkout's,
`/work/main/.venv/bin/python`, whose editable install imports main's code) and this checkout's.
The bench script and its helpers are this checkout's for both, so only the orchestrator differs.
The sizes run one after the other, before and after interleaved, so a change of load on the
machine hits both sides alike. Prints the medians of each run (overhead, the part of it inside
phases, dispatch latency), each size's overhead against the same side's at 10 workspaces (the
aim: at 1,000 within 1.3x), and the 1-minute load average at the start and end of each run.

First, in this process and this checkout, the parts on their own at each size: a walk of the
tree with its manifests, the check of the kept tree's stamps that replaces it per request
(`DiskTree.fresh()` when nothing changed), and finding the names a message mentions, one regular
expression per name (the rule before) against the one-pass matcher (`--micro-only` stops there).
Without a `--before` interpreter (no main checkout here) only this checkout is measured.
Figures are printed, never asserted.
"""
# run_all: timeout 1800

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)

from claude_tunnels.actors.routing import matcher_for
from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.demo.large_tree import lay_out_large
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.tree_source import DiskTree

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent / ".venv" / "bin" / "python"
BEFORE = Path("/work/main/.venv/bin/python")


def run(python: Path, rounds: int, workspaces: int) -> dict[str, object]:
    """One orchestrator on a tree of `workspaces`, `rounds` requests: the medians it printed."""
    load = os.getloadavg()[0]
    done = subprocess.run(
        [str(python), str(HERE / "orchestration_overhead.py"), str(rounds), "--workspaces", str(workspaces), "--json"],
        capture_output=True, text=True, timeout=1800, cwd=HERE.parent,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"{python} with {workspaces} workspaces failed (exit {done.returncode})")
    result: dict[str, object] = json.loads(lines[-1][len("RESULT "):])
    result["load_start"] = f"{load:.1f}"
    return result


MESSAGE = ("Move project-003/ws-04 and project-017 to the new wire protocol, then bump the version in "
           "shared-lib/core and tell web-app's frontend (see docs/notes.md) — the api-gateway too. ") * 4


def _timed(call: Callable[[], object], rounds: int = 7) -> float:
    """The median seconds of `call` over `rounds`."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def old_named(text: str, names: list[str]) -> set[str]:
    # The rule before: one (cached, then compiled again once over 512) regex search per name.
    return {n for n in names if re.search(rf"(?<![\w/.-]){re.escape(n)}(?![\w/-])", text, flags=re.IGNORECASE)}


def micro(sizes: list[int]) -> None:
    """Walk vs stamp check, and per-name regexes vs the matcher, at each size (this checkout)."""
    print(f"\nthe parts alone, this checkout, medians of 7 (load {os.getloadavg()[0]:.1f}); a {len(MESSAGE)}-character message")
    print(f"{'workspaces':>10}{'walk+manifests':>16}{'stamp check':>13}{'regex per name':>16}{'one matcher':>13}{'  (+ its build)':>16}")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-discovery-") as tmp:
            walk, check, per_name, one, build = micro_row(Path(tmp) / "tree", size)
        print(f"{size:>10}{walk * 1000:>13.1f} ms{check * 1000:>10.2f} ms{per_name * 1000:>13.2f} ms{one * 1000:>10.2f} ms{build * 1000:>13.2f} ms")


def micro_row(root: Path, size: int) -> tuple[float, float, float, float, float]:
    """(walk, stamp check, regex per name, one matcher, building it) in seconds, on a tree of `size`."""
    lay_out_large(root, max(size // 10, 1), min(size, 10))
    past = time.time() - 60
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))
    walk = _timed(lambda: discover(root))
    source = DiskTree(load_settings(root=root))
    tree = source.fresh()
    check = _timed(source.fresh)
    assert source.walks == 1, "the stamps of a settled tree changed"
    names = [p.name for p in tree.projects] + [w.qualified for w in tree.workspaces() if w.qualified != w.project]
    per_name = _timed(lambda: old_named(MESSAGE, names))
    build = _timed(lambda: matcher_for(tree.with_remote([])))  # a new tree object each time: built again
    matcher = matcher_for(tree)
    assert matcher.mentioned(MESSAGE) == old_named(MESSAGE, names)
    one = _timed(lambda: matcher.mentioned(MESSAGE))
    return walk, check, per_name, one, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--before", type=Path, default=BEFORE)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    micro(sizes)
    if args.micro_only:
        return
    sides = {"before": args.before, "after": AFTER} if args.before.exists() else {"after": AFTER}
    results: dict[tuple[str, int], dict[str, object]] = {}
    print(f"{os.cpu_count()} CPUs; {args.rounds} rounds per run (after a warm-up); before = {args.before}, after = {AFTER}", flush=True)
    for size in sizes:
        for side, python in sides.items():
            result = results[(side, size)] = run(python, args.rounds, size)
            print(f"  {side:<6} {size:>5} workspaces: overhead {float(result['overhead']) * 1000:.0f} ms, "  # type: ignore[arg-type]
                  f"dispatch {float(result['dispatch_med']) * 1000:.0f} ms (load {result['load_start']} -> "  # type: ignore[arg-type]
                  f"{str(result['load_end']).rsplit(' ', 1)[-1]})", flush=True)
    print("\nmilliseconds, medians over the rounds of each run")
    print(f"{'side':<7}{'workspaces':>11}{'overhead':>10}{'in phases':>11}{'dispatch':>10}{'dispatch max':>14}{'vs 10':>8}{'load':>13}")
    for side in sides:
        base = results.get((side, sizes[0]))
        for size in sizes:
            r = results[(side, size)]
            phases = sum(float(r[f"p{p}.overhead"]) for p in (1, 2, 3))  # type: ignore[arg-type]
            ratio = float(r["overhead"]) / float(base["overhead"]) if base else float("nan")  # type: ignore[arg-type]
            load = f"{r['load_start']}->{str(r['load_end']).rsplit(' ', 1)[-1]}"
            print(f"{side:<7}{size:>11}{float(r['overhead']) * 1000:>10.0f}{phases * 1000:>11.0f}"  # type: ignore[arg-type]
                  f"{float(r['dispatch_med']) * 1000:>10.0f}{float(r['dispatch_max']) * 1000:>14.0f}{ratio:>7.2f}x{load:>13}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
