"""The agent's own git directory: how an agent commits on its branch without write access to the repository.

A linked worktree keeps its index, its HEAD and its branch in the repository's shared `.git`,
beside every other branch, the objects, the configuration and the hooks. Inside the OS sandbox
that `.git` is read-only (`tunnels.claude.sandbox`), so nothing an agent runs can move another
branch, rewrite an object, or plant configuration or hooks that git outside the sandbox would
obey. The agent's git commands use a git directory of the task's own instead (`GIT_DIR` and
`GIT_WORK_TREE` in its environment), beside the worktree (`<task>.git`):

- `HEAD` on the task's branch, at the commit the worktree starts from;
- a snapshot of the repository's branches and tags (`packed-refs`), so `git diff main` works;
- the repository's objects, borrowed read-only (`objects/info/alternates`); new ones stay here;
- a copy of the worktree's index, and the repository's `info/exclude`;
- a fixed configuration (an identity to commit with, no editor, no automatic gc), which the
  agent cannot change (read-only in the sandbox, like `hooks/`).

The agent may stage and commit there; its commits are its own scratch history. What the task did
is what the orchestrator commits from the worktree's files afterwards (`worktrees.commit_all`),
and this directory goes with the worktree (`worktrees.remove`). Nothing outside the sandbox ever
runs git on it.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.tunnels.git.run import git
from claude_tunnels.tunnels.git.worktrees import Worktree, own_git_dir

AGENT_IDENTITY = ("claude-tunnels agent", "agent@claude-tunnels.localhost")


@dataclass(frozen=True)
class TaskGit:
    """What a task's agent sees of git: its own git directory, the worktree it describes, and the
    repository's shared `.git` (readable, never writable, from the sandbox)."""

    own_dir: Path
    work_tree: Path
    shared_dir: Path

    def environment(self) -> dict[str, str]:
        """The variables that point the agent's git commands at its own directory."""
        return {"GIT_DIR": str(self.own_dir), "GIT_WORK_TREE": str(self.work_tree)}

    def read_only(self) -> tuple[Path, ...]:
        """What the sandbox must keep read-only: the shared `.git`, and what of its own directory git
        would take instructions from (its configuration and hooks)."""
        return (self.shared_dir, self.own_dir / "config", self.own_dir / "hooks")


async def prepare(tree: Worktree, rel: Path = Path(".")) -> TaskGit:
    """Make the agent's git directory for `tree` (after its upstream branches were merged in),
    whose agent works in its folder `rel`."""
    shared = Path((await git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=tree.repo)).strip())
    head = (await git("rev-parse", "--verify", "HEAD^{commit}", cwd=tree.path)).strip()
    refs = await git("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags", cwd=tree.repo)
    object_format = (await git("config", "--get", "extensions.objectformat", cwd=tree.repo, check=False)).strip()
    index = (tree.admin or Path(".")) / "index"
    own = own_git_dir(tree.path)
    await asyncio.to_thread(_lay_out, own, tree, shared, head, refs, object_format, index)
    task_git = TaskGit(own_dir=own, work_tree=tree.path, shared_dir=shared)
    if str(rel) != ".":
        await _look_past_the_rest(task_git, rel)
    return task_git


async def _look_past_the_rest(task_git: TaskGit, rel: Path) -> None:
    # The sandbox hides the worktree's other folders from an agent working in one of them (they
    # are other workspaces): marked skip-worktree, they do not show as deleted in its `git status`.
    env = task_git.environment()
    tracked = (await git("ls-files", "-z", cwd=task_git.work_tree, env=env)).split("\0")
    inside = f"{rel.as_posix().rstrip('/')}/"
    elsewhere = [path for path in tracked if path and not path.startswith(inside)]
    if elsewhere:
        await git("update-index", "--skip-worktree", "-z", "--stdin", cwd=task_git.work_tree, env=env, stdin="\0".join(elsewhere) + "\0")


def _lay_out(own: Path, tree: Worktree, shared: Path, head: str, refs: str, object_format: str, index: Path) -> None:
    shutil.rmtree(own, ignore_errors=True)  # left by an interrupted run
    for folder in ("objects/info", "refs/heads", "refs/tags", "hooks", "info"):
        (own / folder).mkdir(parents=True)
    mine = f"refs/heads/{tree.branch}"
    (own / "HEAD").write_text(f"ref: {mine}\n")
    (own / mine).parent.mkdir(parents=True, exist_ok=True)
    (own / mine).write_text(f"{head}\n")
    others = [line for line in refs.splitlines() if line.strip() and line.split(" ", 1)[-1] != mine]
    (own / "packed-refs").write_text("".join(f"{line}\n" for line in others))
    (own / "objects" / "info" / "alternates").write_text(f"{shared / 'objects'}\n")
    version, extensions = ("1", f"[extensions]\n\tobjectformat = {object_format}\n") if object_format else ("0", "")
    (own / "config").write_text(
        f"[core]\n\trepositoryformatversion = {version}\n\tbare = false\n\tlogallrefupdates = true\n\teditor = true\n"
        f"[sequence]\n\teditor = true\n[gc]\n\tauto = 0\n[advice]\n\tdetachedHead = false\n"
        f"[user]\n\tname = {AGENT_IDENTITY[0]}\n\temail = {AGENT_IDENTITY[1]}\n{extensions}"
    )
    exclude = shared / "info" / "exclude"
    if exclude.is_file():
        shutil.copyfile(exclude, own / "info" / "exclude")
    if index.is_file():
        shutil.copyfile(index, own / "index")
