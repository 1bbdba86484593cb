"""A worktree and a branch per task: made at a base commit, committed by the orchestrator, removed.

The orchestrator, not the agent, records what a task changed: it commits the worktree's changes
on the task's branch (author claude-tunnels, trailers naming the request and the task) and reads
the diff from git. A dependant task in the same repository starts from its base with its
dependencies' branches merged in; a conflict names the files and leaves nothing behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.tunnels.git.run import GitError, git

AUTHOR = ("claude-tunnels", "claude-tunnels@localhost")
"""Who the orchestrator's commits are by (git needs a name and an email)."""


class MergeConflict(Exception):
    """Merging branches conflicted; `files` are the conflicting paths (the merge was aborted)."""

    def __init__(self, files: Sequence[str], what: str) -> None:
        self.files = list(files)
        super().__init__(f"{what} conflicts in {', '.join(self.files) or 'the tree'}")


@dataclass(frozen=True)
class Worktree:
    """A task's worktree: `path` holds branch `branch` of the repository at `repo`, made at `base`.

    `admin` is its administrative folder in the repository's `.git` (`.git/worktrees/<name>`),
    through which the orchestrator runs git on it once an agent has worked there (see `_pinned`).
    """

    repo: Path
    path: Path
    branch: str
    base: str
    admin: Path | None = None


def own_git_dir(worktree_path: Path) -> Path:
    """Where the agent's own git directory of the worktree at `worktree_path` lives (beside it,
    `<task>.git`; see `tunnels.git.agent_gitdir`)."""
    return worktree_path.with_name(worktree_path.name + ".git")


def _pinned(worktree: Worktree) -> dict[str, str]:
    # Git is led to a worktree's repository by the `.git` file at its top, which whatever ran in
    # the worktree (a declared test may write there) could have rewritten to lead to a repository
    # of its making, whose configuration would run commands here, outside any sandbox. So once an
    # agent has been there, git is pointed at the administrative folder (read-only to the agent).
    return {"GIT_DIR": str(worktree.admin), "GIT_WORK_TREE": str(worktree.path)} if worktree.admin else {}


def _identity() -> tuple[str, ...]:
    return ("-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}")


async def create(repo: Path, *, path: Path, branch: str, base: str) -> Worktree:
    """A new worktree at `path` on a new branch `branch` made at commit `base` (an existing branch
    of that name, left by an interrupted run, is moved back to `base`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    await git("worktree", "prune", cwd=repo)
    await git("worktree", "add", "--force", "-B", branch, str(path), base, cwd=repo)
    admin = Path((await git("rev-parse", "--absolute-git-dir", cwd=path)).strip())
    return Worktree(repo=repo, path=path, branch=branch, base=base, admin=admin)


async def merge(worktree: Worktree, branches: Sequence[str]) -> None:
    """Merge `branches` into the worktree's branch (MergeConflict naming the files, merge aborted)."""
    for branch in branches:
        try:
            await git(*_identity(), "merge", "--no-edit", "--no-ff", "-m", f"Merge {branch} (upstream of this task)", branch, cwd=worktree.path)
        except GitError as err:
            files = (await git("diff", "--name-only", "--diff-filter=U", cwd=worktree.path, check=False)).split()
            await git("merge", "--abort", cwd=worktree.path, check=False)
            raise MergeConflict(files, f"merging {branch}") from err


async def commit_all(worktree: Worktree, message: str, trailers: dict[str, str]) -> str | None:
    """Commit everything that changed in the worktree (new files included); the commit id, or None
    when nothing changed."""
    env = _pinned(worktree)
    head = (await git("symbolic-ref", "--quiet", "HEAD", cwd=worktree.path, env=env, check=False)).strip()
    if head != f"refs/heads/{worktree.branch}":
        # Never commit onto another branch, whatever moved the worktree's HEAD.
        raise GitError(["commit"], 1, f"the worktree's HEAD is {head or 'detached'}, not its branch {worktree.branch}")
    await git("add", "--all", cwd=worktree.path, env=env)
    if not (await git("diff", "--cached", "--name-only", cwd=worktree.path, env=env)).strip():
        return None
    body = message.strip() or "(no summary)"
    lines = "\n".join(f"{key}: {value}" for key, value in trailers.items())
    await git(*_identity(), "commit", "--no-verify", "--quiet", "-F", "-", cwd=worktree.path, stdin=f"{body}\n\n{lines}\n", env=env)
    return (await git("rev-parse", "--verify", "HEAD^{commit}", cwd=worktree.path, env=env)).strip()


async def discard_changes(worktree: Worktree) -> None:
    """Throw away what the agent left in the worktree (back to the branch's last commit)."""
    await git("reset", "--hard", "--quiet", cwd=worktree.path, env=_pinned(worktree))
    await git("clean", "-fdq", cwd=worktree.path, env=_pinned(worktree))


async def remove(worktree: Worktree, *, delete_branch: bool) -> None:
    """Remove the worktree and the agent's git directory beside it (and its branch when
    `delete_branch`); a worktree already gone is fine."""
    if worktree.path.exists():
        await git("worktree", "remove", "--force", str(worktree.path), cwd=worktree.repo, check=False)
        shutil.rmtree(worktree.path, ignore_errors=True)
    shutil.rmtree(own_git_dir(worktree.path), ignore_errors=True)
    await git("worktree", "prune", cwd=worktree.repo)
    if delete_branch:
        await git("branch", "-D", worktree.branch, cwd=worktree.repo, check=False)


async def ours(repo: Path, prefix: str) -> list[tuple[str, Path | None]]:
    """(branch, its worktree path or None) for every branch of `repo` named with `prefix`."""
    branches = (await git("for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}", cwd=repo)).split()
    paths: dict[str, Path] = {}
    current: Path | None = None
    for line in (await git("worktree", "list", "--porcelain", cwd=repo)).splitlines():
        if line.startswith("worktree "):
            current = Path(line.removeprefix("worktree "))
        elif line.startswith("branch refs/heads/") and current is not None:
            paths[line.removeprefix("branch refs/heads/")] = current
    return [(branch, paths.get(branch)) for branch in branches]
