"""Where a local task runs and what it did, as the orchestrator establishes it (not the agent).

In a git repository (the workspace's own, or a parent's, as in a monorepo) each task gets a fresh
worktree of that repository at the request's base commit, on its own branch, with the branches of
its upstream tasks in the same repository merged in; the agent works in the workspace's folder
inside it. When the agent is done the orchestrator commits what changed, reads the diff from git,
runs the workspace's declared tests, and compares all that with the agent's claims. A task that
does not succeed leaves nothing in the user's working tree: its worktree is removed (its branch
kept for `git.keep_failed_days`, holding what it had done). Outside git the task works in place,
and a manifest taken before and after says which files changed.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.actors.ports import TaskOrder
from claude_tunnels.actors.tree import Workspace
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.execution import WorkspaceTaskDispatched
from claude_tunnels.events.values import FileDiff, TaskFacts, TaskResult, TestRun
from claude_tunnels.projections import RequestsView
from claude_tunnels.projections.requests import task_key
from claude_tunnels.tunnels.git import agent_gitdir, manifest, worktrees
from claude_tunnels.tunnels.git.agent_gitdir import TaskGit
from claude_tunnels.tunnels.git.claims import MAX_FILES, declared_test_run, mismatches
from claude_tunnels.tunnels.git.repository import changes, current_branch, head_commit, repository_root
from claude_tunnels.tunnels.git.run import GitError

_REF_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")


class PreparationFailed(Exception):
    """The task's worktree could not be made (git failed, or its upstream branches conflict)."""


@dataclass
class Placement:
    """Where one task's agent works, and how to establish what it did."""

    cwd: Path
    workspace: Workspace
    worktree: worktrees.Worktree | None = None
    repo_label: str = ""
    rel: Path = Path(".")
    start: str = ""
    base_branch: str = ""
    before: manifest.Manifest | None = None
    agent_git: TaskGit | None = None
    """In git: what the agent's own git commands use (`agent_gitdir`)."""


def branch_name(prefix: str, request_id: str, workspace: str, ordinal: int = 1) -> str:
    """`<prefix><request>/<workspace>` for the first task of a workspace in the request's plan,
    `…/<workspace>-2` for its second, …; whatever git refuses in a ref written `-`."""
    safe = "/".join(part.strip(".") or "ws" for part in _REF_UNSAFE.sub("-", workspace).split("/"))
    again = f"-{ordinal}" if ordinal > 1 else ""
    return f"{prefix}{request_id.lower()}/{safe}{again}".replace("..", ".")


class GitTasks:
    """Prepares and settles local tasks (asyncio side of `tunnels.agents.LocalExecutor`)."""

    def __init__(self, loaded: LoadedSettings, requests: RequestsView) -> None:
        self.loaded = loaded
        self.requests = requests
        self.settings = loaded.settings.git
        self.folder = loaded.state_dir / "worktrees"
        self._pins: dict[tuple[str, str], tuple[str, str]] = {}  # (request, repo) -> (base commit, branch it was on)
        self._pin_locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    async def isolates(self, folder: Path) -> bool:
        """Whether tasks in `folder` get worktrees of their own (it lies in git, worktrees are on)."""
        return self.settings.worktrees and await repository_root(folder) is not None

    def _label(self, repo: Path) -> str:
        root = self.loaded.root.resolve()
        return str(repo.relative_to(root)) if repo.is_relative_to(root) else str(repo)

    async def place(self, order: TaskOrder, workspace: Workspace) -> Placement:
        """The folder the task's agent works in: a fresh worktree in git, the workspace itself outside."""
        dispatched = order.dispatched
        placement = await self.place_ahead(dispatched.request_id, dispatched.task_id, workspace, attempt=dispatched.attempt, own_git=False)
        return await self.ready(placement, order)

    async def place_ahead(
        self, request_id: str, task_id: str, workspace: Workspace, *, attempt: int = 1, own_git: bool = True,
    ) -> Placement:
        """The task's folder before it is due (a warm agent starts in it): in git, its worktree at
        the request's base on the task's branch, with the agent's git directory (`own_git`);
        outside git, the workspace. `ready` completes it when the task is due."""
        assert workspace.path is not None
        repo = await repository_root(workspace.path) if self.settings.worktrees else None
        if repo is None:
            return Placement(cwd=workspace.path, workspace=workspace)
        label = self._label(repo)
        try:
            base, base_branch = await self._base(request_id, repo, label)
            # A run again after a restart (attempt 2) gets a worktree of its own: nothing of the
            # interrupted one (removed by `roll_back`) is reused, and `-B` moves the branch back to the base.
            path = self._path(request_id, task_id, attempt)
            await self._remove_leftovers(repo, [path])
            branch = branch_name(self.settings.branch_prefix, request_id, workspace.qualified, self._ordinal(request_id, task_id, workspace.qualified))
            tree = await worktrees.create(repo, path=path, branch=branch, base=base)
        except GitError as err:
            raise PreparationFailed(f"could not make the task's worktree: {err}") from err
        rel = workspace.path.resolve().relative_to(repo)
        placement = Placement(cwd=tree.path / rel, workspace=workspace, worktree=tree, repo_label=label, rel=rel, base_branch=base_branch)
        if not (tree.path / rel).is_dir():
            await worktrees.remove(tree, delete_branch=True)
            raise PreparationFailed(
                f"{workspace.qualified} is not committed in its repository {label}, so a worktree does not have it: "
                "commit it (or set git.worktrees: false to edit it in place)"
            )
        if own_git:
            await self._own_git(placement)
        return placement

    async def ready(self, placement: Placement, order: TaskOrder) -> Placement:
        """Complete `placement` when its task is due: outside git, the manifest to compare with
        afterwards; in git, the branches of its upstream tasks merged in and the agent's git
        directory laid out again at the merged commit (same paths, so a warm agent's environment
        and sandbox, which name them, stay right)."""
        if placement.worktree is None:
            placement.before = await asyncio.to_thread(manifest.take, placement.cwd)
            return placement
        tree, dispatched = placement.worktree, order.dispatched
        branches = self._upstream_branches(dispatched, placement.repo_label)
        try:
            await worktrees.merge(tree, branches)
            placement.start = await head_commit(tree.path)
        except (worktrees.MergeConflict, GitError) as err:
            await worktrees.remove(tree, delete_branch=True)
            raise PreparationFailed(f"its upstream tasks' changes do not merge: {err}") from err
        if branches or placement.agent_git is None:
            await self._own_git(placement)
        return placement

    async def _own_git(self, placement: Placement) -> None:
        assert placement.worktree is not None
        try:
            placement.agent_git = await agent_gitdir.prepare(placement.worktree, placement.rel)
        except (GitError, OSError) as err:
            await worktrees.remove(placement.worktree, delete_branch=True)
            raise PreparationFailed(f"could not prepare the task's worktree: {err}") from err

    async def drop_ahead(self, placement: Placement) -> None:
        """A placement made ahead whose task will not run from it (its warm agent was dropped):
        its worktree and branch go (nothing ran in it)."""
        if placement.worktree is not None:
            await worktrees.remove(placement.worktree, delete_branch=True)

    def forget(self, request_id: str) -> None:
        """Forget the request's pinned bases (its plan was dropped before any task ran: a new
        plan pins its own when its first task is placed)."""
        for key in [key for key in self._pins if key[0] == request_id]:
            self._pins.pop(key, None)

    def _ordinal(self, request_id: str, task_id: str, workspace: str) -> int:
        """Which task of its workspace in the plan task `task_id` is (1, 2, …): its branch's suffix."""
        request = self.requests.get(request_id)
        if request is None or request.plan is None:
            return 1
        return request.plan.ordinal(task_key(request, task_id, workspace))

    def _path(self, request_id: str, task_id: str, attempt: int) -> Path:
        return self.folder / request_id / (task_id if attempt <= 1 else f"{task_id}.{attempt}")

    async def roll_back(self, request_id: str, task_id: str, folder: Path) -> bool:
        """After a restart: remove every worktree an interrupted run of the task left (any attempt);
        True when the task runs in worktrees (it may then run again from the base), False when
        `folder` is edited in place. The task's branch stays (its next run resets it)."""
        repo = await repository_root(folder) if self.settings.worktrees else None
        if repo is None:
            return False
        parent = self.folder / request_id
        await self._remove_leftovers(repo, [*parent.glob(task_id), *parent.glob(f"{task_id}.*")])
        return True

    async def _remove_leftovers(self, repo: Path, paths: Sequence[Path]) -> None:
        for path in paths:
            if path.exists():
                await worktrees.remove(worktrees.Worktree(repo=repo, path=path, branch="", base=""), delete_branch=False)

    async def _base(self, request_id: str, repo: Path, label: str) -> tuple[str, str]:
        # Every task of a request starts from the same commit of a repository: the first one's.
        # The branch the repository was on then is where the request's changes are merged.
        async with self._pin_locks[(request_id, label)]:
            if (request_id, label) not in self._pins:
                request = self.requests.get(request_id)
                earlier = [
                    (t.facts.base, t.facts.base_branch) for t in (request.tasks.values() if request else [])
                    if t.facts and t.facts.repo == label and t.facts.base
                ]
                self._pins[(request_id, label)] = earlier[0] if earlier else (await head_commit(repo), await current_branch(repo) or "")
            return self._pins[(request_id, label)]

    def _upstream_branches(self, dispatched: WorkspaceTaskDispatched, label: str) -> list[str]:
        """The branches in repository `label` of the tasks the dispatched one builds on, in phase
        order: its upstream tasks and theirs (a task two steps up in this repository counts, such
        as a library's "apply v2" under its "run the tests" after the users were updated), and the
        earlier tasks of its own workspace. Merging a branch another one holds already is a no-op."""
        request = self.requests.get(dispatched.request_id)
        if request is None:
            return []
        wanted = set(dispatched.upstream)  # task keys (`PlannedTask.key`)
        if request.plan is not None:
            mine = task_key(request, dispatched.task_id, dispatched.workspace)
            phase = request.tasks[mine].phase if mine in request.tasks else 0
            wanted |= {key for key, task in request.tasks.items() if task.workspace == dispatched.workspace and task.phase < phase}
            todo = list(wanted)
            while todo:
                key = todo.pop()
                if key in request.tasks and key in {t.key for t in request.plan.tasks}:
                    for dep in request.plan.task_for(key).depends_on:
                        if dep not in wanted:
                            wanted.add(dep)
                            todo.append(dep)
        order = request.plan.order() if request.plan is not None else list(dispatched.upstream)
        branches = []
        for key in order:
            task = request.tasks.get(key)
            if key in wanted and task is not None and task.facts is not None and task.facts.repo == label and task.facts.commit:
                branches.append(task.facts.branch)
        return branches

    async def settle(self, placement: Placement, order: TaskOrder, result: TaskResult) -> TaskFacts:
        """After a successful agent: commit, diff, test, compare with the claims; the facts."""
        dispatched = order.dispatched
        test = await self._test(placement)
        if placement.worktree is None:
            after = await asyncio.to_thread(manifest.take, placement.cwd)
            files = [FileDiff(path=p) for p in manifest.changed(placement.before or {}, after)]
            return TaskFacts(files=files[:MAX_FILES], test=test, mismatches=mismatches(result, files, test, Path(".")))
        tree = placement.worktree
        try:
            commit = await worktrees.commit_all(
                tree, result.summary[:4000], {"Tunnels-Request": dispatched.request_id, "Tunnels-Task": dispatched.task_id},
            )
            found = await changes(tree.repo, placement.start, commit) if commit else []
        finally:
            await worktrees.remove(tree, delete_branch=False)
        if commit is None:
            await worktrees.remove(tree, delete_branch=True)  # nothing to keep: no branch either
        files = [FileDiff(path=c.path, added=c.added, removed=c.removed) for c in found]
        return TaskFacts(
            repo=placement.repo_label, branch=tree.branch if commit else "", base=tree.base, base_branch=placement.base_branch,
            start=placement.start,
            commit=commit or "", files=files[:MAX_FILES], test=test, mismatches=mismatches(result, files, test, placement.rel),
        )

    async def abandon(self, placement: Placement, order: TaskOrder, why: str) -> None:
        """A task that did not succeed: nothing stays in any working tree; its branch holds what it
        had done, kept for `git.keep_failed_days` (or deleted at once when that is 0)."""
        tree = placement.worktree
        if tree is None:
            return
        keep = self.settings.keep_failed_days > 0
        try:
            if keep:
                await worktrees.commit_all(tree, f"(unfinished: {why})"[:500], {
                    "Tunnels-Request": order.dispatched.request_id, "Tunnels-Task": order.dispatched.task_id, "Tunnels-Outcome": "unfinished",
                })
        except GitError:
            keep = False
        finally:
            await worktrees.remove(tree, delete_branch=not keep)

    async def _test(self, placement: Placement) -> TestRun | None:
        return await declared_test_run(
            placement.workspace.claude_md, cwd=placement.cwd, writable=placement.worktree.path if placement.worktree else placement.cwd,
            hidden=self._hidden(placement), sandboxed=self.loaded.settings.permissions.sandbox,
            timeout_s=min(self.loaded.settings.limits.task_timeout_s, 900),
        )

    def _hidden(self, placement: Placement) -> list[Path]:
        from claude_tunnels.tunnels.claude.confinement import ReadScope, home_areas

        loaded = self.loaded
        return ReadScope(placement.cwd, (loaded.root, loaded.state_dir, loaded.archive_dir, *home_areas())).sandbox_denials()
