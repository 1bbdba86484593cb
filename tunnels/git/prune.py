"""Finding and removing what is stale of the orchestrator's own git state (`retention` judges).

Only two kinds of thing are ever removed: entries of the orchestrator's own worktrees folder
(checked to lie inside it, links removed as links, never followed) and branches of ours
(`refs/heads/<prefix><request>/…`, deleted only if they still point where they pointed when
judged). A branch that someone has checked out outside that folder is left alone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from claude_tunnels.projections.requests import RequestState
from claude_tunnels.tunnels.git.inventory import OurBranch, RepoInventory, TaskFolder, read_repository, task_folders
from claude_tunnels.tunnels.git.retention import Policy, RequestIndex, Verdict, judge_branch, judge_folder
from claude_tunnels.tunnels.git.run import GitError, git

Kind = Literal["worktree", "branch", "other"]


@dataclass
class Item:
    """One thing of ours, what was judged of it, and what happened when it was to be removed."""

    kind: Kind
    name: str
    """The branch's name, or the entry's path inside the worktrees folder (`<request>/<task>`)."""
    verdict: Verdict
    repo: Path | None = None
    branch: OurBranch | None = None
    path: Path | None = None
    request: RequestState | None = None
    error: str = ""
    """Why removing it failed (it stays)."""


@dataclass
class Survey:
    """Everything of ours, judged: per repository its branches, then the worktrees folder."""

    repos: list[RepoInventory] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def stale(self) -> list[Item]:
        """What the policy removes."""
        return [item for item in self.items if item.verdict.remove]


async def survey(
    repos: Iterable[Path], requests: Mapping[str, RequestState], policy: Policy, folders: list[TaskFolder] | None = None,
) -> Survey:
    """Read every repository and the worktrees folder (unless listed already: `folders`), and judge
    each thing of ours.

    List the folder before reading the log: a worktree made meanwhile was made for a task the log
    (read after) shows dispatched, so it is never taken for a leftover."""
    if folders is None:
        folders = await asyncio.to_thread(task_folders, policy.folder)
    index = RequestIndex(requests)
    found = Survey(repos=[await read_repository(repo, policy.prefix, policy.folder) for repo in repos])
    registered = {_real(path): inventory.repo for inventory in found.repos for path in inventory.worktrees}
    for entry in folders:
        name = f"{entry.request}/{entry.name}" if entry.name else entry.request
        kind: Kind = "worktree" if entry.kind in ("worktree", "gitdir") else "other"
        worktree = entry.path.with_name(entry.name.removesuffix(".git")) if entry.kind == "gitdir" else entry.path
        repo = registered.get(_real(worktree)) if kind == "worktree" else None
        found.items.append(Item(kind, name, judge_folder(entry, index, policy), repo=repo, path=entry.path, request=index.get(entry.request)))
    kept = frozenset(item.path for item in found.items if item.path is not None and not item.verdict.remove)
    for inventory in found.repos:
        for branch in inventory.branches:
            verdict = judge_branch(branch, index, policy, kept)
            found.items.append(Item("branch", branch.name, verdict, repo=inventory.repo, branch=branch, request=index.get(branch.request)))
    return found


async def prune(found: Survey, folder: Path) -> list[Item]:
    """Remove what `found` judged stale; the items removed (an item that could not be removed
    keeps its `error` and is not among them)."""
    removed: list[Item] = []
    stale = found.stale()
    for item in stale:
        if item.path is not None:
            try:
                await asyncio.to_thread(_remove_inside, item.path, folder)
                removed.append(item)
            except (OSError, ValueError) as err:
                item.error = str(err)
    for inventory in found.repos:
        if not inventory.problem:
            await git("worktree", "prune", cwd=inventory.repo, check=False)
    for item in stale:
        if item.branch is not None:
            try:
                # Only if it still points where it did when judged (no race with a new run of its task).
                await git("update-ref", "-d", f"refs/heads/{item.branch.name}", item.branch.tip, cwd=item.branch.repo)
                removed.append(item)
            except (GitError, OSError) as err:
                item.error = getattr(err, "message", str(err))
    await asyncio.to_thread(_remove_empty_request_folders, folder)
    return removed


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _remove_inside(path: Path, folder: Path) -> None:
    """Remove `path` (a folder, a file or a link) after checking it lies inside `folder`."""
    real_folder = Path(os.path.realpath(folder))
    parent = Path(os.path.realpath(path.parent))
    if not (parent == real_folder or parent.is_relative_to(real_folder)) or path.name in ("", ".", ".."):
        raise ValueError(f"{path} is not inside {folder}: left alone")
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _remove_empty_request_folders(folder: Path) -> None:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            try:
                entry.rmdir()  # only when empty
            except OSError:
                continue


def summary(removed: list[Item], *, dry_run: bool = False) -> str:
    """`removed 2 worktrees and 3 branches` (`would remove …` for a dry run), or `nothing stale`."""
    counts = (
        (sum(1 for i in removed if i.kind == "worktree" and not i.name.endswith(".git")), "worktree", "worktrees"),
        (sum(1 for i in removed if i.kind == "other"), "other entry", "other entries"),
        (sum(1 for i in removed if i.kind == "branch"), "branch", "branches"),
    )
    parts = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
    if not parts:
        return "nothing stale"
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return f"{'would remove' if dry_run else 'removed'} {text}"
