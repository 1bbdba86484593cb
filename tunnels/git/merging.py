"""Merging commits without a working tree, and moving a branch without clobbering anyone's work.

`merge_commits` computes a merge with `git merge-tree --write-tree` (git 2.38+) and records it with
`git commit-tree`: no checkout is touched, so a merge can be prepared while people work. A branch
is then moved either in the working tree that has it checked out (a fast-forward `git merge
--ff-only`, which git itself refuses when it would overwrite local changes) or, checked out
nowhere, with `git update-ref` guarded by its old value (someone moving it meanwhile fails it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from claude_tunnels.tunnels.git.run import GitError, git, git_outcome
from claude_tunnels.tunnels.git.worktrees import AUTHOR, MergeConflict

IDENTITY = ("-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}")


@dataclass(frozen=True)
class Combined:
    """The commit holding both sides: `ours` itself (it `contains` theirs), `theirs` (a
    `fast_forward` from ours), or a new `merge` commit."""

    commit: str
    kind: Literal["contains", "fast_forward", "merge"]


async def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    """Whether commit `older` is in the history of `newer` (the same commit counts)."""
    code, _, err = await git_outcome("merge-base", "--is-ancestor", older, newer, cwd=repo)
    if code not in (0, 1):
        raise GitError(["merge-base", "--is-ancestor", older, newer], code, err or f"cannot compare {older[:12]} and {newer[:12]}")
    return code == 0


async def merge_commits(repo: Path, ours: str, theirs: str, message: str) -> Combined:
    """Merge commit `theirs` into `ours` without a working tree; MergeConflict names the files."""
    if await is_ancestor(repo, theirs, ours):
        return Combined(ours, "contains")
    if await is_ancestor(repo, ours, theirs):
        return Combined(theirs, "fast_forward")
    code, out, err = await git_outcome("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs, cwd=repo)
    fields = [field for field in out.split("\0") if field]
    if code == 1 and fields:
        raise MergeConflict(sorted(set(fields[1:])), f"merging {theirs[:12]} into {ours[:12]}")
    if code != 0 or not fields:
        raise GitError(["merge-tree", "--write-tree", ours, theirs], code, err or out)
    commit = await git(*IDENTITY, "commit-tree", fields[0], "-p", ours, "-p", theirs, "-F", "-", cwd=repo, stdin=message.strip() + "\n")
    return Combined(commit.strip(), "merge")


async def checked_out_at(repo: Path, branch: str) -> Path | None:
    """The working tree (the repository's own or a linked one) that has `branch` checked out, if any."""
    current: Path | None = None
    for line in (await git("worktree", "list", "--porcelain", cwd=repo)).splitlines():
        if line.startswith("worktree "):
            current = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{branch}" and current is not None:
            return current
    return None


async def changed_between(repo: Path, old: str, new: str) -> list[str]:
    """The paths that differ between two commits (both sides of a rename)."""
    out = await git("diff", "--name-only", "-z", "--no-renames", old, new, cwd=repo)
    return [path for path in out.split("\0") if path]


async def uncommitted(checkout: Path, paths: list[str]) -> list[str]:
    """Which of `paths` have uncommitted changes (staged, unstaged or untracked) in `checkout`."""
    if not paths:
        return []
    out = await git("status", "--porcelain", "-z", "--untracked-files=all", "--", *paths, cwd=checkout)
    found = []
    records = iter(out.split("\0"))
    for record in records:
        if len(record) < 4:
            continue
        found.append(record[3:])
        if record[0] in "RC":
            next(records, None)  # a rename's or a copy's source path follows
    return sorted(set(found))


async def move_branch(repo: Path, branch: str, old: str, new: str) -> Path | None:
    """Point `branch` at `new` (a descendant of `old`, where it is now); return the checkout that was
    updated, if the branch is checked out. GitError when the branch moved meanwhile, or git refuses
    to overwrite local changes in that checkout."""
    checkout = await checked_out_at(repo, branch)
    if checkout is None:
        await git("update-ref", "-m", "claude-tunnels: merge", f"refs/heads/{branch}", new, old, cwd=repo)
        return None
    head = (await git("rev-parse", "HEAD", cwd=checkout)).strip()
    if head != old:
        raise GitError(["merge", "--ff-only"], 1, f"{branch} moved while merging (it is at {head[:12]})")
    await git(*IDENTITY, "merge", "--ff-only", "--quiet", new, cwd=checkout)
    return checkout
