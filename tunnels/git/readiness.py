"""How the tree's workspaces stand with git, for `tunnels doctor`: which are edited in place (no
rollback), and what in a repository keeps a task's worktree from being what the person expects.

Each check is one cheap git command whose answer is unambiguous: outside any repository; no
commit yet (tasks there fail); the workspace's folder not committed (a worktree would not have
it); uncommitted changes in it (tasks start from the last commit and do not see them); submodules
(a worktree has them empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from claude_tunnels.actors.tree import Workspace
from claude_tunnels.tunnels.git.repository import repository_root
from claude_tunnels.tunnels.git.run import git


@dataclass
class GitReadiness:
    """What was found: workspaces in git, by repository, those outside, and one note per problem."""

    in_git: dict[Path, list[str]] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """`3 workspace(s) in git (2 repositories), 1 edited in place`."""
        inside = sum(len(names) for names in self.in_git.values())
        text = f"{inside} workspace(s) in git ({len(self.in_git)} repositor{'y' if len(self.in_git) == 1 else 'ies'})"
        return text + (f", {len(self.outside)} edited in place" if self.outside else "")


async def check_workspaces(workspaces: Sequence[Workspace], *, worktrees: bool) -> GitReadiness:
    """Check each local workspace (remote ones are their hosts' business)."""
    found = GitReadiness()
    checked: set[Path] = set()
    for workspace in workspaces:
        if workspace.path is None:
            continue
        repo = await repository_root(workspace.path)
        if repo is None:
            found.outside.append(workspace.qualified)
            found.notes.append(
                f"{workspace.qualified}: outside git: edited in place, no rollback (`git init` and a first commit there "
                "give each task its own worktree and branch)"
            )
            continue
        found.in_git.setdefault(repo, []).append(workspace.qualified)
        if repo not in checked:
            checked.add(repo)
            found.notes.extend(await _repository_notes(repo))
        if worktrees:
            found.notes.extend(await _workspace_notes(repo, workspace))
    if not worktrees and found.in_git:
        found.notes.append("git.worktrees is off: every workspace is edited in place, with no rollback")
    return found


async def _repository_notes(repo: Path) -> list[str]:
    if not (await git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=repo, check=False)).strip():
        return [f"repository {repo}: no commit yet: its tasks fail until a first commit is made"]
    if (await git("ls-files", "--", ".gitmodules", cwd=repo, check=False)).strip():
        return [f"repository {repo}: has submodules: a task's worktree has them empty (not checked out)"]
    return []


async def _workspace_notes(repo: Path, workspace: Workspace) -> list[str]:
    assert workspace.path is not None
    rel = workspace.path.resolve().relative_to(repo)
    spec = "." if str(rel) == "." else rel.as_posix()
    if not (await git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=repo, check=False)).strip():
        return []  # said of the repository
    if not (await git("ls-files", "--", spec, cwd=repo, check=False)).strip():
        return [f"{workspace.qualified}: not committed in {repo}: a task's worktree would not have it (tasks there fail); commit it"]
    changed = [line for line in (await git("status", "--porcelain", "--", spec, cwd=repo, check=False)).splitlines() if line.strip()]
    if changed:
        return [f"{workspace.qualified}: {len(changed)} uncommitted change(s): tasks start from the last commit and do not see them"]
    return []
