"""SIGKILL trials: kill the orchestrator during a multi-phase request, start it again on the same
store, and check what the person and the repositories end up with; and how long a restart takes to
take up 10 and 100 requests in flight.

    .venv/bin/python bench/resume_kills.py [--random 64] [--targeted 2] [--in-flight 10 100] [--rounds 3]

Each trial lays out the sample tree with `web-app` and `shared-lib` in git and runs one request,
planned as four tasks in three phases (shared-lib/core; then web-app/backend and shared-lib/docs,
after core; then web-app/frontend, after backend), each task writing a file with the real Claude
Code CLI against the scripted model. The orchestrator is `tests.helpers.resume_proc`, a real
process with one terminal conversation that confirms what it prints (as `tunnels chat` does).

- random trials: SIGKILL at a uniform moment of the first run (between its start and the
  request's usual end); a quarter of them are killed a second time, at a uniform moment of the
  restarted run; then a last run goes to the end;
- targeted trials: the process kills itself when a chosen event is folded (before any actor
  reacts to it): each moment of `TARGETS`, `--targeted` times each.

After the last run the stream and the repositories are checked: the request ended exactly once;
nothing was dispatched after its end; each task's branch holds one orchestrator commit for that
task; no worktree is left and the user's checkouts are untouched; the end was confirmed posted
exactly once; the plan was approved once and no answer was refused. A task interrupted twice is
not run a third time, so such a request finishes with failures: counted, not a violation.

The resume time of a trial is from the restarted process's start to the first event of the
request's taking-up (`request.resumed`, or its completion when only that was left). The in-flight
figure lays out N requests as a killed orchestrator leaves them (each with a task running in a
git worktree, written straight to the store), starts the orchestrator on them and times each
request's `request.resumed` from the process's start: median and last.
"""

# run_all: timeout 3600
from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import machine, med

from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.execution import WorkspaceTaskDispatched, WorkspaceTaskStarted, WorkspaceTaskSucceeded
from claude_tunnels.events.log import Stored
from claude_tunnels.events.values import Plan, PlannedTask
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from tests.e2e.scenarios import plan, router, scenario
from tests.factories import Events
from tests.git.repos import run

ROOT = Path(__file__).resolve().parent.parent
CORE, BACKEND, DOCS, FRONTEND = "shared-lib/core", "web-app/backend", "shared-lib/docs", "web-app/frontend"
PLAN = plan("four", (CORE, "bump core", []), (BACKEND, "use it", [CORE]), (DOCS, "document it", [CORE]),
            (FRONTEND, "show it", [BACKEND]))
TASK_DELAY_S = 1.0
TARGETS = [
    ["route.decided"], ["confirmation.requested"], ["plan.approved"], ["phase.started#1"], [f"task.dispatched@{CORE}"],
    [f"task.started@{CORE}"], [f"task.progress@{CORE}"], [f"task.succeeded@{CORE}"], ["phase.completed#1"],
    [f"task.started@{BACKEND}"], [f"task.succeeded@{DOCS}"], ["phase.started#3"], [f"task.succeeded@{FRONTEND}"],
    ["request.completed"], ["reply.posted#4"],
    [f"task.started@{CORE}", "request.resumed"],  # killed again while the restart takes it up
    [f"task.started@{CORE}", f"task.started@{CORE}"],  # the task run again is interrupted too
]


def writes(workspace: str) -> dict[str, Any]:
    name = workspace.split("/")[-1]
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [
        {"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/" + f"{name}.txt", "content": f"{name}\n"}}]},
        {"structured_output": {"summary": f"{name} written", "changed_files": [f"{name}.txt"], "test_result": "pass"},
         "delay_s": TASK_DELAY_S},
    ]}


# Names in a message are hints: the router (scripted) settles the route of "in web-app and shared-lib".
SCENARIO = scenario(router(["web-app", "shared-lib"], "the change"), PLAN, *[writes(w) for w in (CORE, BACKEND, DOCS, FRONTEND)])


def git_tree(folder: Path, *, limits: dict[str, Any] | None = None) -> Path:
    root = lay_out(folder / "tree")
    document = {"claude": {"isolate_home": True}, "limits": {"progress_interval_s": 0.1, "task_timeout_s": 120, **(limits or {})}}
    (root / "orchestrator.yaml").write_text(json.dumps(document))
    for project in ("web-app", "shared-lib"):
        run(root / project, "init", "--quiet", "--initial-branch", "main")
        run(root / project, "add", "--all")
        run(root / project, "commit", "--quiet", "-m", "start")
    return root


@dataclass
class Run:
    """One run of the orchestrator process: how it ended and what it printed."""

    killed: bool
    start: float
    """When the orchestrator began starting (its `START` line, imports done)."""
    spawned: float = 0.0
    """When the process was spawned (imports included)."""
    lines: list[dict[str, Any]] = field(default_factory=list)


async def run_once(folder: Path, root: Path, script: dict[str, Any], *, kill_after_s: float | None = None, name: str = "run") -> Run:
    """Run `tests.helpers.resume_proc` once; SIGKILL it `kill_after_s` after it is ready, if given."""
    (folder / f"{name}.json").write_text(json.dumps(script))
    (folder / "scenario.yaml").write_text(SCENARIO)
    spawned = time.time()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.resume_proc", str(root), str(folder / "scenario.yaml"), str(folder / f"{name}.json"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=(folder / f"{name}.err").open("wb"),
    )
    assert process.stdout is not None
    out = Run(killed=False, start=0.0, spawned=spawned)
    killer: asyncio.TimerHandle | None = None
    try:
        async with asyncio.timeout(300):
            while line := (await process.stdout.readline()).decode():
                if line.startswith("START"):
                    out.start = float(line.split()[1])
                elif line.startswith("READY") and kill_after_s is not None:
                    killer = asyncio.get_running_loop().call_later(kill_after_s, process.send_signal, signal.SIGKILL)
                elif line.startswith("{"):
                    out.lines.append(json.loads(line))
            code = await process.wait()
    finally:
        if killer is not None:
            killer.cancel()
        if process.returncode is None:
            process.kill()
            await process.wait()
    out.killed = code == -signal.SIGKILL
    if not out.killed and code != 0:
        tail = (folder / f"{name}.err").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the orchestrator process exited with {code}; its stderr ends:\n{tail}")
    return out


@dataclass
class Tally:
    trials: int = 0
    kills: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    reruns: int = 0
    interrupted: int = 0
    resume_s: list[float] = field(default_factory=list)
    """From the restarted orchestrator's start to the request taken up."""
    spawn_s: list[float] = field(default_factory=list)
    """The same from the process's spawn (Python's start and the imports included)."""

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks[name] += 1
        if not ok:
            self.violations[name] += 1
            print(f"    VIOLATION {name}: {detail}", flush=True)


async def verify(root: Path, tally: Tally) -> None:
    """The checks of the module's docstring, on the stream and the repositories."""
    loaded = load_settings(root / "orchestrator.yaml")
    async with open_backbone(loaded, role="owner", name="bench-check") as backbone:
        stored: list[Stored] = await backbone.store.read()
    events = [s.event for s in stored]
    posted = Counter(getattr(e, "in_reply_to", None) for e in events if e.type == "reply.posted")
    by_request: dict[str, list[Any]] = {}
    for event in events:
        if (rid := getattr(event, "request_id", None)) is not None:
            by_request.setdefault(rid, []).append(event)
    for rid, mine in by_request.items():
        ends = [e for e in mine if isinstance(e, REQUEST_ENDED)]
        tally.check("one outcome per request", len(ends) == 1, f"{rid}: {[e.type for e in ends]}")
        if not ends:
            continue
        end = ends[0]
        tally.outcomes[end.type if end.type != "request.completed" else ("completed" if not end.failed else "finished with failures")] += 1
        after = mine[mine.index(end):]
        tally.check("nothing dispatched after the end", not any(isinstance(e, WorkspaceTaskDispatched) for e in after), rid)
        tally.check("the outcome heard once", posted[end.id] == 1, f"{rid}: posted {posted[end.id]} times")
        counts = Counter(e.type for e in mine)
        tally.check("approved once, never refused", counts["confirmation.given"] <= 1 and counts["confirmation.refused"] == 0, str(counts))
        tally.reruns += sum(1 for e in mine if isinstance(e, WorkspaceTaskDispatched) and e.attempt > 1)
        tally.interrupted += counts["task.interrupted"]
        for done in [e for e in mine if isinstance(e, WorkspaceTaskSucceeded) and e.facts and e.facts.commit]:
            repo = root / (done.facts.repo or ".")
            commits = run(repo, "log", "--format=%B", done.facts.branch).count(f"Tunnels-Task: {done.task_id}\n")
            tally.check("one commit per task branch", commits == 1, f"{done.facts.branch}: {commits} commits")
    for project in ("web-app", "shared-lib"):
        listed = run(root / project, "worktree", "list").count("\n") == 1
        clean = not run(root / project, "status", "--porcelain").strip()
        tally.check("no worktree left, checkouts untouched", listed and clean, project)
    leftovers = [p for p in (root / ".tunnels" / "worktrees").rglob("*") if p.is_file()]
    tally.check("no worktree folder left", not leftovers, str(leftovers[:3]))


def taken_up(restart: Run) -> float | None:
    """When the restarted process first took the request up (its wall-clock time)."""
    taken = [line["t"] for line in restart.lines if line["type"] in ("request.resumed", "phase.completed", "request.completed",
                                                                        "task.dispatched", "route.decided", "plan.proposed")]
    return taken[0] if taken and restart.start else None


async def trial(tally: Tally, base: Path, n: int, crashes: list[str | None], kill_after: list[float | None]) -> None:
    """One trial: runs with the given self-kill specs (or kill delays) until one ends on its own."""
    folder = base / f"trial-{n}"
    folder.mkdir()
    root = git_tree(folder)
    script: dict[str, Any] = {"users": ["ann"], "approve": True,
                              "steps": [{"user": "ann", "say": "in web-app and shared-lib: the change"}]}
    runs: list[Run] = []
    for index in range(6):
        crash = crashes[index] if index < len(crashes) else None
        delay = kill_after[index] if index < len(kill_after) else None
        this = {**script, **({"crash": crash} if crash else {})}
        runs.append(await run_once(folder, root, this, kill_after_s=delay, name=f"run{index}"))
        script = {"users": ["ann"], "approve": True}  # the restarts say nothing new
        if runs[-1].killed:
            tally.kills += 1
            continue
        break
    tally.trials += 1
    restarts = runs[1:]
    if restarts and (took := taken_up(restarts[0])) is not None:
        tally.resume_s.append(took - restarts[0].start)
        tally.spawn_s.append(took - restarts[0].spawned)
    await verify(root, tally)


async def calibrate(base: Path) -> float:
    """How long the request takes from the process being ready to its end (one run, no kill)."""
    folder = base / "calibration"
    folder.mkdir()
    root = git_tree(folder)
    script = {"users": ["ann"], "approve": True, "steps": [{"user": "ann", "say": "in web-app and shared-lib: the change"}]}
    done = await run_once(folder, root, script)
    ends = [line["t"] for line in done.lines if line["type"] == "request.completed"]
    return ends[0] - done.start


def report(tally: Tally, label: str) -> None:
    print(f"\n{label}: {tally.trials} trials, {tally.kills} kills", flush=True)
    print(f"  outcomes: {dict(tally.outcomes)}")
    print(f"  tasks run again after a restart: {tally.reruns}; reported interrupted (not run again): {tally.interrupted}")
    for name, count in tally.checks.items():
        print(f"  {name}: {count - tally.violations[name]}/{count} held")
    if tally.resume_s:
        print(f"  restart -> the request taken up: median {med(tally.resume_s):.2f} s from the orchestrator's start "
              f"(max {max(tally.resume_s):.2f}), {med(tally.spawn_s):.2f} s from the process's spawn (max {max(tally.spawn_s):.2f})")


# -- N requests in flight -------------------------------------------------------------------------


async def in_flight(base: Path, count: int) -> tuple[float, float, float]:
    """Start an orchestrator on `count` requests each with a task running in a git worktree (as a
    kill leaves them); seconds from its start to each request's taking-up (median, last), and from
    the process's spawn to the last."""
    folder = base / f"in-flight-{count}-{time.monotonic_ns()}"
    folder.mkdir()
    root = git_tree(folder, limits={"max_parallel_agents": 2})
    loaded = load_settings(root / "orchestrator.yaml")
    ev = Events(datetime.now(UTC))
    pair = plan("pair", (CORE, "bump core", []), (BACKEND, "use it", [CORE]))
    the_plan = Plan(label="pair", tasks=[PlannedTask(workspace=CORE, task="bump core"),
                                         PlannedTask(workspace=BACKEND, task="use it", depends_on=[CORE])],
                    phases=[[CORE], [BACKEND]])
    async with open_backbone(loaded, role="owner", name="bench-writer") as backbone:
        for n in range(count):
            key, rid = f"terminal:u{n}", ev.ids.new_id()
            for event in (ev.opened(key, rid, "in shared-lib and web-app: pair", requester=key), ev.routed(key, rid, ["shared-lib", "web-app"]),
                          ev.proposed(key, rid, the_plan), ev.approved(key, rid, by=key), ev.phase(key, rid, 1, [CORE])):
                await backbone.store.append(event)
            dispatched = WorkspaceTaskDispatched(task_id=f"{rid}-1", workspace=CORE, phase=1, task="bump core",
                                                 **ev.envelope(key, request_id=rid))
            await backbone.store.append(dispatched)
            await backbone.store.append(WorkspaceTaskStarted(task_id=f"{rid}-1", workspace=CORE, agent="local",
                                                             **ev.envelope(key, request_id=rid)))
    hang = {"name": CORE, "match": [f"Workspace: {CORE}\n"], "turns": [{"hang": True}]}
    (folder / "scenario.yaml").write_text(scenario(pair, hang))
    (folder / "script.json").write_text(json.dumps({"users": []}))
    spawned = time.time()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.resume_proc", str(root), str(folder / "scenario.yaml"), str(folder / "script.json"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    start = 0.0
    resumed: list[float] = []
    try:
        async with asyncio.timeout(300):
            while len(resumed) < count and (line := (await process.stdout.readline()).decode()):
                if line.startswith("START"):
                    start = float(line.split()[1])
                elif line.startswith("{") and json.loads(line)["type"] == "request.resumed":
                    resumed.append(json.loads(line)["t"])
    finally:
        process.kill()
        await process.wait()
    return med(resumed) - start, max(resumed) - start, max(resumed) - spawned


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=64, help="random-moment trials")
    parser.add_argument("--targeted", type=int, default=2, help="trials per targeted moment")
    parser.add_argument("--in-flight", type=int, nargs="*", default=[10, 100], help="requests in flight for the resume time")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each in-flight figure")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"SIGKILL trials on {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp:
        base = Path(tmp)
        if args.random or args.targeted:
            span = await calibrate(base)
            print(f"one request, uninterrupted: {span:.1f} s from the process start to its end", flush=True)
        targeted, uniform = Tally(), Tally()
        for n in range(args.random):
            kills: list[float | None] = [rng.uniform(0, span)]
            if rng.random() < 0.25:
                kills.append(rng.uniform(0, span))
            await trial(uniform, base, n, [], kills)
            print(f"  random {n + 1}/{args.random}: kill(s) at {', '.join(f'{k:.1f}' for k in kills if k is not None)} s", flush=True)
        if args.random:
            report(uniform, "random moments")
        for n, crashes in enumerate([t for t in TARGETS for _ in range(args.targeted)]):
            await trial(targeted, base, 1000 + n, list(crashes), [])
            print(f"  targeted {n + 1}: {' then '.join(crashes)}", flush=True)
        if args.targeted:
            report(targeted, "targeted moments")
        for count in args.in_flight:
            figures = [await in_flight(base, count) for _ in range(args.rounds)]
            median, last, spawn = (med([f[i] for f in figures]) for i in range(3))
            print(f"\n{count} requests in flight ({args.rounds} rounds, medians): the orchestrator's start -> each request "
                  f"taken up: median {median:.2f} s, last {last:.2f} s; the process's spawn -> the last {spawn:.2f} s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
