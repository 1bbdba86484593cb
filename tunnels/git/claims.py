"""The agent's claims against what the orchestrator's own code found: the few lines shared by a
local task (`tunnels.git.tasks`) and a remote agent's (`tunnels.agent_sessions`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from claude_tunnels.events.values import FileDiff, TaskResult, TestRun
from claude_tunnels.tunnels.git.front_matter import FrontMatterError, declared_test
from claude_tunnels.tunnels.sandboxed import run_command

MAX_FILES = 500
"""At most this many changed files are recorded on a task's facts."""


def mismatches(result: TaskResult, files: Sequence[FileDiff], test: TestRun | None, rel: Path = Path(".")) -> list[str]:
    """Where the agent's claims differ from what was found (`files` relative to the repository,
    the workspace at `rel` in it; the claims relative to the workspace)."""
    prefix = "" if str(rel) == "." else f"{rel}/"
    found = {f.path.removeprefix(prefix) for f in files}
    claimed = {p.strip().removeprefix("./") for p in result.changed_files if p.strip() and not p.startswith("… and")}
    notes = []
    if missing := sorted(claimed - found):
        notes.append(f"claimed changed but unchanged: {', '.join(missing[:10])}")
    if unclaimed := sorted(found - claimed):
        notes.append(f"changed but not claimed: {', '.join(unclaimed[:10])}")
    if test is not None and result.test_result != "skip" and (result.test_result == "pass") != test.passed:
        notes.append(f"the agent said tests {result.test_result}; `{test.command}` {'passed' if test.passed else 'failed'}")
    return notes


async def declared_test_run(
    claude_md: str, *, cwd: Path, writable: Path, hidden: Sequence[Path], sandboxed: bool, timeout_s: float,
) -> TestRun | None:
    """Run the `test` command declared in `claude_md`'s front matter in `cwd` (in the OS sandbox,
    writing only under `writable`, `hidden` unreadable, when `sandboxed`); None when none is declared."""
    try:
        command = declared_test(claude_md)
    except FrontMatterError as err:
        return TestRun(command="(unreadable)", passed=False, exit_code=-1, tail=str(err))
    if command is None:
        return None
    outcome = await run_command(command, cwd=cwd, writable=writable, hidden=hidden, sandboxed=sandboxed, timeout_s=timeout_s)
    return TestRun(command=command, passed=outcome.exit_code == 0, exit_code=outcome.exit_code, tail=outcome.tail)
