"""What the orchestrator has made in git: its branches in each repository, the worktrees git knows
in its own folder, and whatever else lies in that folder (`<state_dir>/worktrees`).

Ours is decided by name only: a branch under `git.branch_prefix` whose next part is a request id
(`<prefix><request>/<workspace>`), a worktree whose folder lies inside the orchestrator's own
worktrees folder. A branch or worktree of the person's is never listed, whatever it is called.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from claude_tunnels.projections.requests import RequestState
from claude_tunnels.tunnels.git.run import GitError, git

_REQUEST_PART = re.compile(r"[0-9a-z][0-9a-z_-]*")
_FIELD, _RECORD = "\x1f", "\x1e"


@dataclass(frozen=True)
class OurBranch:
    """A branch of ours: `<prefix><request>/<rest>` (`rest` is the workspace, as the name writes it)."""

    repo: Path
    name: str
    request: str
    """The request id as the branch spells it (lower case)."""
    rest: str
    tip: str
    tip_at: datetime
    unfinished: bool
    """Its last commit is the one a task that did not succeed leaves (`Tunnels-Outcome: unfinished`)."""
    checked_out: Path | None = None
    """The worktree that has it checked out (one of ours, or the person's own), if any."""


@dataclass(frozen=True)
class RepoInventory:
    """One repository: its branches of ours, and the worktrees git lists in our folder."""

    repo: Path
    branches: list[OurBranch] = field(default_factory=list)
    worktrees: dict[Path, str | None] = field(default_factory=dict)
    """Registered worktrees inside our folder: path -> the branch checked out there (None: detached)."""
    problem: str = ""
    """Why the repository could not be read (then nothing else is filled in)."""


@dataclass(frozen=True)
class TaskFolder:
    """An entry of our worktrees folder: `<request>/<name>` (a task's worktree, or `<task>.git`, the
    agent's git directory beside it), or something that is neither (`kind`)."""

    path: Path
    request: str
    name: str
    kind: str
    """`worktree` (a folder), `gitdir` (an agent's git directory), `empty` (a request folder with
    nothing in it), `other` (a file, a link)."""


async def our_repositories(root: Path, workspace_folders: Iterable[Path], requests: Iterable[RequestState]) -> list[Path]:
    """Every repository the orchestrator may have branches in: those holding the tree's workspaces,
    and those recorded in the tasks' facts (`TaskFacts.repo`, relative to `root` or absolute)."""
    folders = list(workspace_folders)
    for request in requests:
        for task in request.tasks.values():
            if task.facts is not None and task.facts.repo:
                recorded = Path(task.facts.repo)
                folders.append(recorded if recorded.is_absolute() else root / recorded)
    unique = dict.fromkeys(Path(os.path.realpath(folder)) for folder in folders)
    return await repository_roots(folder for folder in unique if folder.is_dir())


async def repository_roots(folders: Iterable[Path]) -> list[Path]:
    """The distinct repositories holding `folders` (each one's top folder), in a stable order."""
    found: dict[Path, Path] = {}
    for folder in folders:
        try:
            top = Path((await git("rev-parse", "--path-format=absolute", "--show-toplevel", cwd=folder)).strip())
        except (GitError, OSError):
            continue
        found.setdefault(top.resolve(), top.resolve())
    return sorted(found.values())


async def read_repository(repo: Path, prefix: str, folder: Path) -> RepoInventory:
    """The branches of ours in `repo` (named `<prefix><request>/…`) and its worktrees inside `folder`."""
    try:
        refs = await git(
            "for-each-ref", f"--format=%(refname){_FIELD}%(objectname){_FIELD}%(committerdate:unix){_FIELD}"
            f"%(contents:trailers:key=Tunnels-Outcome,valueonly){_RECORD}", "refs/heads/", cwd=repo,
        )
        listing = await git("worktree", "list", "--porcelain", "-z", cwd=repo)
    except (GitError, OSError) as err:
        return RepoInventory(repo=repo, problem=str(err))
    checked_out = _checked_out(listing)
    real_folder = Path(os.path.realpath(folder))
    worktrees = {path: branch for path, branch in _worktrees(listing) if _inside(path, real_folder)}
    branches = []
    for record in refs.split(_RECORD):
        parts = record.strip("\n").split(_FIELD)
        if len(parts) != 4 or not parts[0].startswith(f"refs/heads/{prefix}"):
            continue
        name = parts[0].removeprefix("refs/heads/")
        request, slash, rest = name.removeprefix(prefix).partition("/")
        if not slash or not rest or not _REQUEST_PART.fullmatch(request):
            continue  # under the prefix, but not shaped like ours: not ours to judge
        branches.append(OurBranch(
            repo=repo, name=name, request=request, rest=rest, tip=parts[1],
            tip_at=datetime.fromtimestamp(int(parts[2] or 0), UTC), unfinished="unfinished" in parts[3],
            checked_out=checked_out.get(name),
        ))
    return RepoInventory(repo=repo, branches=branches, worktrees=worktrees)


def task_folders(folder: Path) -> list[TaskFolder]:
    """Every entry two levels down in our worktrees folder (`<request>/<name>`); an entry one level
    down that is not a folder, or an empty one, is listed with an empty name. Links are never followed."""
    found: list[TaskFolder] = []
    for request in _entries(folder):
        if request.is_symlink() or not request.is_dir():
            found.append(TaskFolder(request, request.name, "", "other"))
            continue
        inside = _entries(request)
        if not inside:
            found.append(TaskFolder(request, request.name, "", "empty"))
        for entry in inside:
            if entry.is_symlink() or not entry.is_dir():
                kind = "other"
            else:
                kind = "gitdir" if entry.name.endswith(".git") else "worktree"
            found.append(TaskFolder(entry, request.name, entry.name, kind))
    return found


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _worktrees(listing: str) -> list[tuple[Path, str | None]]:
    """(path, branch) of each worktree in `git worktree list --porcelain -z` output."""
    found: list[tuple[Path, str | None]] = []
    path: Path | None = None
    branch: str | None = None
    for line in [*listing.split("\0"), ""]:
        if line.startswith("worktree "):
            path, branch = Path(line.removeprefix("worktree ")), None
        elif line.startswith("branch refs/heads/"):
            branch = line.removeprefix("branch refs/heads/")
        elif not line and path is not None:
            found.append((path, branch))
            path = None
    return found


def _checked_out(listing: str) -> dict[str, Path]:
    return {branch: path for path, branch in _worktrees(listing) if branch is not None}


def _inside(path: Path, folder: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real != folder and real.is_relative_to(folder)
