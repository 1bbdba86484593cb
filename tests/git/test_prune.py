"""Finding and removing what is stale, on real repositories and a real worktrees folder, hostile
names and links included: only our own entries and our own branches ever go."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from msgspec.structs import replace

from claude_tunnels.events.changes import ProposedTask, RepoChanges
from claude_tunnels.projections.changes import RepoState
from claude_tunnels.projections.requests import RequestState, TaskState
from claude_tunnels.tunnels.git import worktrees
from claude_tunnels.tunnels.git.inventory import our_repositories, read_repository
from claude_tunnels.tunnels.git.prune import prune, summary, survey
from claude_tunnels.tunnels.git.repository import head_commit
from claude_tunnels.tunnels.git.retention import Policy
from tests.git.repos import make_repo, run

NOW = datetime.now(UTC)
OLD, NEW = "01JOLD0000000000000000000A", "01JNEW0000000000000000000B"


def ours(repo: Path, name: str, *, days_ago: float, unfinished: bool = False) -> str:
    """A branch `name` whose last commit is `days_ago` old (an unfinished task's, if so)."""
    when = f"@{int((NOW - timedelta(days=days_ago)).timestamp())} +0000"
    message = "half done\n\nTunnels-Outcome: unfinished\n" if unfinished else "done\n"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    sha = subprocess.run(["git", "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", message], cwd=repo, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    run(repo, "update-ref", f"refs/heads/{name}", sha)
    return sha


def request(request_id: str, status: str, task_status: str, ended_days_ago: float | None) -> RequestState:
    ended = NOW - timedelta(days=ended_days_ago) if ended_days_ago is not None else None
    return RequestState(
        request_id=request_id, session_key="k", text="t", requester="r", channel="terminal", opened_at=NOW, status=status,  # type: ignore[arg-type]
        tasks={"web": TaskState(workspace="web", task="t", phase=1, task_id=f"{request_id}-1", status=task_status, ended_at=ended)},  # type: ignore[arg-type]
        ended_at=ended,
    )


def undecided(state: RequestState) -> RequestState:
    """`state` whose task's branch waits in a proposed request branch for the person's decision."""
    task = ProposedTask(workspace="web", branch=f"tunnels/{state.request_id.lower()}/web", commit="b" * 40)
    proposal = RepoChanges(repo="web", branch=f"tunnels/{state.request_id.lower()}-result", base="a" * 40, head="b" * 40, tasks=[task])
    assert state.ended_at is not None
    return replace(state, changes={"web": RepoState(proposal=proposal, proposed_at=state.ended_at)})


async def test_stale_worktrees_and_branches_go_and_nothing_else(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "web", {"a.txt": "a\n"})
    folder = tmp_path / "state" / "worktrees"
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine\n")
    # The person's own: a branch, a worktree of theirs on a branch under our prefix, a branch under
    # the prefix that is not shaped like ours.
    run(repo, "branch", "feature")
    ours(repo, f"tunnels/{OLD.lower()}/theirs", days_ago=40)
    run(repo, "worktree", "add", "--quiet", str(tmp_path / "alice-wt"), f"tunnels/{OLD.lower()}/theirs")
    ours(repo, "tunnels/Not-Ours/x", days_ago=40, unfinished=True)
    # Ours: an old failed task's branch and its leftover worktree, a running task's worktree, a
    # succeeded task's branch (undecided), an unfinished branch whose request the log lost.
    failed = await worktrees.create(repo, path=folder / OLD / f"{OLD}-1", branch=f"tunnels/{OLD.lower()}/web", base=await head_commit(repo))
    (folder / OLD / f"{OLD}-1.git").mkdir()
    running = await worktrees.create(repo, path=folder / NEW / f"{NEW}-1", branch=f"tunnels/{NEW.lower()}/web", base=await head_commit(repo))
    ours(repo, "tunnels/01jsucceeded000000000000000/web", days_ago=60)
    lost = ours(repo, "tunnels/01jlost00000000000000000000/web", days_ago=30, unfinished=True)
    # Hostile entries in our folder: a link leading out, a name with a newline, a stray file.
    os.symlink(precious, folder / "link-out")
    os.symlink(precious, folder / NEW / "evil-link")
    (folder / "01JX\nrm -rf ~" / "$(reboot)\n..").mkdir(parents=True)
    (folder / "01JEMPTY").mkdir()
    (folder / "stray.txt").write_text("x\n")
    log = {
        OLD: request(OLD, "failed", "failed", ended_days_ago=30),
        NEW: request(NEW, "executing", "running", ended_days_ago=None),
        "01JSUCCEEDED000000000000000": undecided(request("01JSUCCEEDED000000000000000", "completed", "succeeded", ended_days_ago=60)),
    }
    policy = Policy(now=NOW, keep_failed_days=7, prefix="tunnels/", folder=folder)

    found = await survey(await our_repositories(tmp_path, [repo / "."], log.values()), log, policy)
    removed = await prune(found, folder)

    names = sorted(item.name for item in removed)
    assert names == sorted([
        f"{OLD}/{OLD}-1", f"{OLD}/{OLD}-1.git", f"{NEW}/evil-link", "link-out", "01JX\nrm -rf ~/$(reboot)\n..", "stray.txt",
        "01JEMPTY",
        f"tunnels/{OLD.lower()}/web", "tunnels/01jlost00000000000000000000/web",
    ]), names
    assert summary(removed) == "removed 2 worktrees, 4 other entries and 2 branches"
    # Gone: the failed task's worktree (and git knows it), its branch, the lost unfinished branch.
    assert not failed.path.exists() and str(failed.path) not in run(repo, "worktree", "list")
    branches = run(repo, "branch", "--list", "--format=%(refname:short)").split()
    assert f"tunnels/{OLD.lower()}/web" not in branches and "tunnels/01jlost00000000000000000000/web" not in branches
    # Kept: the running task's worktree, the undecided success, and everything of the person's.
    assert running.path.is_dir() and f"tunnels/{NEW.lower()}/web" in branches
    assert "tunnels/01jsucceeded000000000000000/web" in branches and "feature" in branches and "main" in branches
    assert f"tunnels/{OLD.lower()}/theirs" in branches and (tmp_path / "alice-wt" / "a.txt").exists()
    assert "tunnels/Not-Ours/x" in branches
    assert (precious / "keep.txt").read_text() == "mine\n"  # links were removed as links
    assert sorted(p.name for p in folder.iterdir()) == [NEW]  # the emptied request folder went too
    assert lost not in run(repo, "for-each-ref")


async def test_a_branch_that_moved_since_it_was_judged_is_not_deleted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "web", {"a.txt": "a\n"})
    folder = tmp_path / "worktrees"
    ours(repo, f"tunnels/{OLD.lower()}/web", days_ago=30, unfinished=True)
    found = await survey([repo], {}, Policy(now=NOW, keep_failed_days=7, prefix="tunnels/", folder=folder))
    moved = ours(repo, f"tunnels/{OLD.lower()}/web", days_ago=0)  # a new run of its task, meanwhile

    removed = await prune(found, folder)

    assert removed == [] and run(repo, "rev-parse", f"tunnels/{OLD.lower()}/web").strip() == moved
    [item] = found.stale()
    assert item.error  # said why it stayed


async def test_a_repository_that_cannot_be_read_is_reported_not_fatal(tmp_path: Path) -> None:
    inventory = await read_repository(tmp_path / "missing", "tunnels/", tmp_path / "worktrees")
    assert inventory.problem and inventory.branches == []
