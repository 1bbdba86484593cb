"""The cost of a worktree per task, against the agent's own time of a typical task.

    .venv/bin/python bench/worktree_cost.py [ROUNDS]     # default 7 (5 for the largest repository)

1. The git work the orchestrator does for one task, on real repositories of 100, 5,000 and 50,000
   files (100 files a folder), timed step by step exactly as a task runs it: make the worktree at
   the base (`git worktree add`: it checks every file out), the agent's own git directory (for a
   workspace in a subfolder, the heavier case), merge an upstream task's branch, then, after three
   files were changed, commit, read the diff, and remove the worktree (and its branch). Each
   round is a fresh task.
2. One typical task end to end through a running orchestrator (the real Claude Code CLI played by
   the scripted model, the OS sandbox on): read a file, write one, run two commands, answer. The
   same task alternately in a project that is a git repository (a worktree per task) and in a
   copy of it outside git (edited in place; the orchestrator's before/after manifest says what
   changed), 5,000 files each, in the same run.

Printed: medians (min-max) over the rounds, the worktree's share of the task, the ratios. Never
asserted.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import Bench, machine, med, planner_script, running, seconds, spread

from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskDispatched, WorkspaceTaskStarted, WorkspaceTaskSucceeded
from claude_tunnels.tunnels.claude.sandbox import check_sandbox
from claude_tunnels.tunnels.git import agent_gitdir, worktrees
from claude_tunnels.tunnels.git.repository import changes, head_commit

SIZES = (100, 5_000, 50_000)
STEPS = ("worktree add", "agent git dir", "merge upstream", "commit", "diff", "remove")


def make_repository(path: Path, files: int) -> Path:
    """A repository of `files` small Python files, 100 a folder, one commit; and a branch
    `bench/upstream` that changes one of them (what an upstream task leaves)."""
    for index in range(files):
        folder = path / f"pkg{index // 100:04d}"
        if index % 100 == 0:
            folder.mkdir(parents=True)
        (folder / f"m{index:05d}.py").write_text(f"VALUE_{index} = {index}\n")
    (path / "CLAUDE.md").write_text("# bench\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "--quiet", "--initial-branch", "main"], ["add", "--all"], ["commit", "--quiet", "-m", "start"],
                 ["checkout", "--quiet", "-b", "bench/upstream"]):
        subprocess.run([*git, *args], cwd=path, check=True)
    (path / "pkg0000" / "m00099.py").write_text("VALUE_99 = 'upstream'\n")
    for args in (["commit", "--quiet", "-am", "upstream"], ["checkout", "--quiet", "main"]):
        subprocess.run([*git, *args], cwd=path, check=True)
    return path


async def _timed(step: str, into: dict[str, list[float]], work: Callable[[], Awaitable[Any]]) -> Any:
    began = time.perf_counter()
    result = await work()
    into[step].append(time.perf_counter() - began)
    return result


async def one_task(repo: Path, folder: Path, number: int, into: dict[str, list[float]]) -> None:
    """The git work of one task, each step timed into `into`."""
    base = await head_commit(repo)
    path = folder / f"task-{number}"

    tree = await _timed("worktree add", into, lambda: worktrees.create(repo, path=path, branch=f"tunnels/bench{number}/app", base=base))
    await _timed("agent git dir", into, lambda: agent_gitdir.prepare(tree, Path("pkg0000")))
    await _timed("merge upstream", into, lambda: worktrees.merge(tree, ["bench/upstream"]))
    start = await head_commit(tree.path)
    for name in ("m00000.py", "m00001.py", "new.py"):  # what the agent did
        (tree.path / "pkg0000" / name).write_text("CHANGED = True\n")
    commit = await _timed("commit", into, lambda: worktrees.commit_all(tree, "bench", {"Tunnels-Request": f"bench{number}"}))
    assert commit is not None
    found = await _timed("diff", into, lambda: changes(repo, start, commit))
    assert len(found) == 3, found
    await _timed("remove", into, lambda: worktrees.remove(tree, delete_branch=True))


async def git_costs(base: Path, rounds: int) -> dict[int, dict[str, list[float]]]:
    """Part 1: per size, each step's seconds over the rounds."""
    figures: dict[int, dict[str, list[float]]] = {}
    for files in SIZES:
        made = time.perf_counter()
        repo = make_repository(base / f"repo-{files}", files)
        print(f"  a repository of {files:,} files made in {time.perf_counter() - made:.1f} s", flush=True)
        into: dict[str, list[float]] = {step: [] for step in STEPS}
        count = rounds if files < 50_000 else max(3, rounds - 2)
        await one_task(repo, base / f"wt-{files}", 0, {step: [] for step in STEPS})  # warm-up
        for number in range(1, count + 1):
            await one_task(repo, base / f"wt-{files}", number, into)
        figures[files] = into
    return figures


def _agent_script(workspace: str) -> dict[str, Any]:
    """A typical task: read a file, write one, run two commands, answer."""
    def call(name: str, **tool_input: str) -> dict[str, Any]:
        return {"tool_uses": [{"name": name, "input": tool_input}]}

    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [
        call("Read", file_path="{cwd}/pkg0000/m00000.py"),
        call("Write", file_path="{cwd}/pkg0000/feature.py", content="FEATURE = True\n"),
        call("Bash", command="ls pkg0000"),
        call("Bash", command="cat pkg0000/feature.py"),
        {"structured_output": {"summary": "added the feature", "changed_files": ["pkg0000/feature.py"], "test_result": "skip"}},
    ]}


async def end_to_end(base: Path, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Part 2: the typical task with a worktree (`ingit`) and in place (`inplace`), alternately."""
    scripts = [
        planner_script("in git", [("ingit", [])], match="INGIT"), planner_script("in place", [("inplace", [])], match="INPLACE"),
        _agent_script("ingit"), _agent_script("inplace"),
    ]
    figures = {kind: {"request": [], "to start": [], "agent": []} for kind in ("ingit", "inplace")}
    async with running(base / "e2e", {"ingit": [], "inplace": []}, scripts, {"max_parallel_agents": 1}) as bench:
        make_repository(bench.root / "ingit", 5_000)
        make_repository(bench.root / "inplace", 5_000)
        shutil.rmtree(bench.root / "inplace" / ".git")
        for number in range(rounds + 1):
            for kind in (("ingit", "inplace") if number % 2 == 0 else ("inplace", "ingit")):
                final, approval = await bench.approved_request(f"{kind}: BENCH-{kind.upper()} round {number}", timeout=300)
                if not isinstance(final, RequestCompleted) or final.succeeded != 1:
                    raise SystemExit(f"the bench task did not succeed: {final}")
                if number == 0:
                    continue  # warm-up
                _record(bench, final, approval, figures[kind])
    return figures


def _record(bench: Bench, final: RequestCompleted, approval: Any, into: dict[str, list[float]]) -> None:
    events = [s.event for s in bench.of_request(final.request_id)]
    dispatched = next(e for e in events if isinstance(e, WorkspaceTaskDispatched))
    started = next(e for e in events if isinstance(e, WorkspaceTaskStarted))
    succeeded = next(e for e in events if isinstance(e, WorkspaceTaskSucceeded))
    into["request"].append(seconds(final.at, approval.at))
    into["to start"].append(seconds(started.at, dispatched.at))
    into["agent"].append(seconds(succeeded.at, started.at))


async def main(rounds: int) -> None:
    if not check_sandbox().ok:
        raise SystemExit(f"the OS sandbox cannot run here: {check_sandbox().problem}")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-worktrees-") as folder:
        base = Path(folder)
        print("part 1: the git work of one task")
        costs = await git_costs(base, rounds)
        print("part 2: one typical task end to end, with a worktree and in place")
        e2e = await end_to_end(base, rounds)
    print(f"\nThe git work of one task (ms; medians (min-max) over {rounds} rounds, {max(3, rounds - 2)} for 50,000 files):")
    print(f"{'files':>7}  " + "  ".join(f"{step:>17}" for step in (*STEPS, "total")))
    totals: dict[int, float] = {}
    for files, steps in costs.items():
        per_round = [sum(values) for values in zip(*steps.values(), strict=True)]
        totals[files] = med(per_round)
        cells = [spread(steps[step], 1000) for step in STEPS] + [spread(per_round, 1000)]
        print(f"{files:>7,}  " + "  ".join(f"{cell:>17}" for cell in cells))
    on, off = e2e["ingit"], e2e["inplace"]
    print(f"\nOne typical task end to end, 5,000 files, real CLI, sandbox on (s; medians (min-max) over {rounds} rounds):")
    print(f"{'':<34}{'request':>18}{'dispatch->start':>18}{'agent (start->end)':>20}")
    for label, values in (("in a worktree (git.worktrees on)", on), ("in place (outside git)", off)):
        print(f"{label:<34}{spread(values['request'], 1, 2):>18}{spread(values['to start'], 1, 2):>18}{spread(values['agent'], 1, 2):>20}")
    ratio = med(on["request"]) / med(off["request"])
    print(f"\nrequest time, worktree / in place: {ratio:.2f} ({(med(on['request']) - med(off['request'])) * 1000:+.0f} ms)")
    agent = med(off["agent"])
    for files, total in totals.items():
        print(f"git work of a task with {files:,} files / the agent's time of the typical task ({agent:.2f} s): {total / agent:.3f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
