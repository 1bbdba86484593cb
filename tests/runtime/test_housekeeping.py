"""The orchestrator's git housekeeping: a start cleans up what a crash left (nothing runs yet), and
the hourly sweep, on the injected timers, removes what went stale meanwhile."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.git import agent_gitdir, worktrees
from claude_tunnels.tunnels.git.repository import head_commit
from claude_tunnels.tunnels.runtime.housekeeping import INTERVAL_S
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from tests.clocks import ManualClock
from tests.git.repos import make_repo, run

CRASHED = "01JCRASHED0000000000000000"


def old_unfinished_branch(repo: Path, name: str, days_ago: float) -> None:
    when = f"@{int((datetime.now(UTC) - timedelta(days=days_ago)).timestamp())} +0000"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    sha = subprocess.run(["git", "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "(unfinished: failed)\n\nTunnels-Outcome: unfinished\n"],
                         cwd=repo, env=env, capture_output=True, text=True, check=True).stdout.strip()
    run(repo, "update-ref", f"refs/heads/{name}", sha)


async def test_a_start_removes_what_a_crash_left_and_the_hourly_sweep_what_went_stale(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "web", {"CLAUDE.md": "# web\n", "a.txt": "a\n"})
    (tmp_path / "orchestrator.yaml").write_text("{}\n")
    folder = tmp_path / ".tunnels" / "worktrees"
    base = await head_commit(repo)
    # What a killed orchestrator left: a task's worktree, its agent's git directory, a stray folder.
    crashed = await worktrees.create(repo, path=folder / CRASHED / f"{CRASHED}-1", branch=f"tunnels/{CRASHED.lower()}/web", base=base)
    own = (await agent_gitdir.prepare(crashed)).own_dir
    (folder / "01JHALFMADE000000000000000").mkdir()
    old_unfinished_branch(repo, "tunnels/01jlongago0000000000000000/web", days_ago=30)
    run(repo, "branch", "feature")
    clock = ManualClock(datetime.now(UTC))

    async with Orchestrator(load_settings(tmp_path / "orchestrator.yaml"), clock=clock, timers=clock, monotonic=clock.monotonic) as orchestrator:
        assert not crashed.path.exists() and not own.exists() and list(folder.iterdir()) == []
        assert run(repo, "worktree", "list").count("\n") == 1
        branches = run(repo, "branch", "--format=%(refname:short)").split()
        assert "tunnels/01jlongago0000000000000000/web" not in branches  # past git.keep_failed_days
        assert f"tunnels/{CRASHED.lower()}/web" in branches and "feature" in branches  # young; the person's

        # Later a worktree whose task no longer runs is found: the next sweep, an hour on, removes it.
        stale = await worktrees.create(repo, path=folder / "01JSTALE000000000000000000" / "01JSTALE000000000000000000-1",
                                       branch="tunnels/01jstale000000000000000000/web", base=base)
        clock.advance(INTERVAL_S)
        [sweep] = [task for task in orchestrator.background.running if task.get_name() == "git housekeeping"]
        await sweep
        assert not stale.path.exists() and orchestrator.housekeeping.sweeps == 2
        assert clock.now() + timedelta(seconds=INTERVAL_S) in clock.pending()  # and the next is armed
