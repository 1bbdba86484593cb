"""What the orchestrator reads of a git repository: where it is, its head, what changed between commits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.tunnels.git.run import GitError, git


@dataclass(frozen=True)
class FileChange:
    """One file's change between two commits (`added`/`removed` lines; -1 for a binary file)."""

    path: str
    added: int
    removed: int


async def repository_root(path: Path) -> Path | None:
    """The top folder of the git repository holding `path` (its own or a parent's), or None."""
    try:
        out = await git("rev-parse", "--show-toplevel", cwd=path)
    except (GitError, FileNotFoundError, NotADirectoryError):
        return None
    return Path(out.strip()).resolve()


async def head_commit(repo: Path, ref: str = "HEAD") -> str:
    """The full commit id of `ref`."""
    return (await git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=repo)).strip()


async def current_branch(repo: Path) -> str | None:
    """The branch checked out in `repo`, or None on a detached head."""
    out = (await git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=repo, check=False)).strip()
    return out or None


async def is_clean(repo: Path) -> bool:
    """Whether the working tree has no change (tracked or untracked, ignored files aside)."""
    return not (await git("status", "--porcelain", cwd=repo)).strip()


async def changes(repo: Path, base: str, head: str) -> list[FileChange]:
    """What changed from `base` to `head`, per file (renames as the new path)."""
    out = await git("diff", "--numstat", "-z", "--no-renames", f"{base}..{head}", cwd=repo)
    found = []
    for record in out.split("\0"):
        if not record:
            continue
        added, removed, path = record.split("\t", 2)
        found.append(FileChange(path, -1 if added == "-" else int(added), -1 if removed == "-" else int(removed)))
    return found


async def changed_paths(repo: Path, base: str, head: str) -> set[str]:
    """The files that differ between `base` and `head`."""
    return {change.path for change in await changes(repo, base, head)}


async def branch_exists(repo: Path, branch: str) -> bool:
    """Whether the local branch exists."""
    return bool((await git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=repo, check=False)).strip())
