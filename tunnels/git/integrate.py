"""A request's changes in this host's git repositories (`actors.ports.ChangeIntegrator`).

At the end of a request each repository its local tasks changed gets one request branch,
`<prefix><request>-result` (beside the task branches `<prefix><request>/<workspace>`, never a
prefix of them), made at the request's pinned base with every succeeded task's commit merged in,
in phase order, without touching any working tree. Then, as the person decides:

- Merge: into the branch the repository was on when the request started. Refused, naming the
  files, when that branch has moved and conflicts, or when it is checked out in a working tree
  with uncommitted changes to the files the merge changes; the user's edits are never touched
  (a checked-out branch moves by a fast-forward git itself guards; one checked out nowhere by an
  `update-ref` guarded by its old value). Then the request and task branches are deleted.
- Open PR: push the request branch to `git.remote` and open a pull request through the GitHub
  API when a token is configured (else only push, giving the compare page); the task branches are
  deleted, the request branch stays (it backs the pull request).
- Discard: the request branch and every branch of the request (failed tasks' too) are deleted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from msgspec.structs import replace

from claude_tunnels.actors.ports import Discarded, Merged, Pushed, Refusal, RepoWork
from claude_tunnels.config.credentials import Secret, load_credentials
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.changes import RepoChanges
from claude_tunnels.events.values import FileDiff
from claude_tunnels.tunnels.git import worktrees
from claude_tunnels.tunnels.git.github import GitHubError, PullRequests, parse_remote
from claude_tunnels.tunnels.git.merging import changed_between, checked_out_at, merge_commits, move_branch, uncommitted
from claude_tunnels.tunnels.git.repository import changes, head_commit
from claude_tunnels.tunnels.git.run import GitError, git
from claude_tunnels.tunnels.git.worktrees import MergeConflict

MAX_FILES = 500
TOKEN_ENV = {"token": "GITHUB_TOKEN"}
"""Credential key -> the environment variable that overrides `ARCHIVE/github/credentials`."""


def request_branch(prefix: str, request_id: str) -> str:
    """`<prefix><request>-result`: one per request and repository."""
    return f"{prefix}{request_id.lower()}-result"


def _names(files: list[str], limit: int = 10) -> str:
    shown = ", ".join(files[:limit])
    return shown + (f" and {len(files) - limit} more" if len(files) > limit else "")


class GitIntegrator:
    """Request branches, merges, pushes and pull requests in the repositories of the tree."""

    def __init__(self, loaded: LoadedSettings, *, token: Secret | None = None) -> None:
        self.root = loaded.root.resolve()
        self.settings = loaded.settings.git
        self.pulls = PullRequests(self.settings.github.api_url, token) if token is not None else None
        self._locks: dict[Path, asyncio.Lock] = defaultdict(asyncio.Lock)

    @classmethod
    def from_settings(cls, loaded: LoadedSettings, *, env: Mapping[str, str] | None = None) -> GitIntegrator:
        """With the GitHub token of `ARCHIVE/github/credentials` (`token`) or `GITHUB_TOKEN`, if any."""
        credentials = load_credentials(loaded.archive_dir, "github", env=os.environ if env is None else env, env_keys=TOKEN_ENV)
        return cls(loaded, token=credentials.get("token"))

    def _repo(self, label: str) -> Path:
        path = Path(label)
        return (path if path.is_absolute() else self.root / path).resolve()

    # -- the request branch ----------------------------------------------------------------

    async def propose(self, request_id: str, work: RepoWork) -> RepoChanges | None:
        """The request branch of one repository (see `actors.ports.ChangeIntegrator.propose`)."""
        repo = self._repo(work.repo)
        async with self._locks[repo]:
            head, tasks = work.base, []
            for task in work.tasks:
                message = f"Merge {task.branch} ({task.workspace})\n\nTunnels-Request: {request_id}\n"
                try:
                    head = (await merge_commits(repo, head, task.commit, message)).commit
                except MergeConflict as err:
                    task = replace(task, left_out=f"its changes conflict with the tasks before it in {_names(err.files)}")
                except GitError as err:
                    task = replace(task, left_out=f"its commit could not be merged ({err})")
                tasks.append(task)
            if head == work.base:
                return None
            branch = request_branch(self.settings.branch_prefix, request_id)
            await git("update-ref", "-m", "claude-tunnels: request branch", f"refs/heads/{branch}", head, cwd=repo)
            found = await changes(repo, work.base, head)
        return RepoChanges(
            repo=work.repo, branch=branch, base=work.base, head=head, base_branch=work.base_branch, tasks=tasks,
            files=[FileDiff(path=c.path, added=c.added, removed=c.removed) for c in found][:MAX_FILES],
        )

    # -- merge ----------------------------------------------------------------------------

    async def merge(self, request_id: str, proposal: RepoChanges, message: str) -> Merged | Refusal:
        """Merge the request branch into the branch the repository was on (see the module)."""
        into = proposal.base_branch
        if not into:
            return Refusal(f"the repository was on a detached HEAD when the request started, so there is no branch to merge "
                           f"into; open a pull request, or merge {proposal.branch} by hand")
        repo = self._repo(proposal.repo)
        async with self._locks[repo]:
            try:
                target = await head_commit(repo, f"refs/heads/{into}")
            except GitError:
                return Refusal(f"the branch {into} no longer exists; open a pull request, or merge {proposal.branch} by hand")
            try:
                combined = await merge_commits(repo, target, proposal.head, message)
            except MergeConflict as err:
                return Refusal(f"{into} has moved since the request started and conflicts with its changes in {_names(err.files)}; "
                               f"merge {proposal.branch} by hand, open a pull request, or discard", err.files)
            checkout: Path | None = None
            if combined.kind != "contains":  # "contains": merged already (a decision carried out again after a restart)
                checkout = await checked_out_at(repo, into)
                if checkout is not None:
                    dirty = await uncommitted(checkout, await changed_between(repo, target, combined.commit))
                    if dirty:
                        return Refusal(f"{into} is checked out in {checkout} with uncommitted changes to files the merge changes: "
                                       f"{_names(dirty)}; commit or put them aside, then merge again", dirty)
                try:
                    checkout = await move_branch(repo, into, target, combined.commit)
                except GitError as err:
                    return Refusal(f"{into} could not be updated: {err.said.splitlines()[-1] if err.said else err}")
            await self._delete(repo, [proposal.branch, *self._merged_task_branches(proposal)])
        return Merged(commit=combined.commit, fast_forward=combined.kind != "merge", checkout=str(checkout or ""))

    # -- pull request ---------------------------------------------------------------------

    async def publish(self, request_id: str, proposal: RepoChanges, title: str, body: str) -> Pushed | Refusal:
        """Push the request branch and open its pull request (see the module)."""
        repo, remote, branch = self._repo(proposal.repo), self.settings.remote, proposal.branch
        async with self._locks[repo]:
            url = (await git("remote", "get-url", remote, cwd=repo, check=False)).strip()
            if not url:
                return Refusal(f"the repository has no remote named {remote} (`git.remote`); add it, or merge instead")
            try:
                await git("push", "--quiet", remote, f"{proposal.head}:refs/heads/{branch}", cwd=repo, remote=True)
            except GitError as err:
                return Refusal(f"pushing {branch} to {remote} failed: {err.said.splitlines()[-1] if err.said else err}")
            hosted = parse_remote(url)
            compare = hosted.compare_url(proposal.base_branch, branch) if hosted is not None and proposal.base_branch else ""
            pushed = Pushed(remote=remote, compare_url=compare)
            if self.pulls is None:
                pushed = dataclasses.replace(pushed, note="no GitHub token is configured (GITHUB_TOKEN, or `token` in ARCHIVE/github/credentials), "
                                                              "so no pull request was opened")
            elif hosted is None:
                pushed = dataclasses.replace(pushed, note=f"the URL of {remote} does not name a GitHub repository, so no pull request was opened")
            elif not proposal.base_branch:
                pushed = dataclasses.replace(pushed, note="the repository was on a detached HEAD, so there is no base branch for a pull request")
            else:
                try:
                    pr_url, number = await self.pulls.open(hosted, head=branch, base=proposal.base_branch, title=title, body=body)
                except GitHubError as err:
                    return Refusal(f"{branch} is pushed to {remote}, but the pull request could not be opened: {err.message}")
                pushed = dataclasses.replace(pushed, pr_url=pr_url, pr_number=number)
            await self._delete(repo, self._merged_task_branches(proposal))
        return pushed

    # -- discard --------------------------------------------------------------------------

    async def discard(self, request_id: str, proposal: RepoChanges) -> Discarded:
        """Delete the request branch and every task branch of the request (failed tasks' too)."""
        repo = self._repo(proposal.repo)
        async with self._locks[repo]:
            ours = await worktrees.ours(repo, f"{self.settings.branch_prefix}{request_id.lower()}/")
            for branch, path in ours:
                if path is not None:  # a worktree a crash left behind: it goes too
                    await worktrees.remove(worktrees.Worktree(repo=repo, path=path, branch=branch, base=""), delete_branch=False)
            return Discarded(branches=await self._delete(repo, [proposal.branch, *(branch for branch, _ in ours)]))

    # -- helpers --------------------------------------------------------------------------

    def _merged_task_branches(self, proposal: RepoChanges) -> list[str]:
        # A left-out task's branch is the only copy of its work: it stays (for retention).
        return [task.branch for task in proposal.tasks if not task.left_out and task.branch]

    async def _delete(self, repo: Path, branches: list[str]) -> list[str]:
        """Delete the branches that exist (not one checked out somewhere); the ones deleted."""
        deleted = []
        for branch in dict.fromkeys(branches):
            if await checked_out_at(repo, branch) is None and (await git("branch", "-D", branch, cwd=repo, check=False)).strip():
                deleted.append(branch)
        return deleted

