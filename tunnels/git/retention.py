"""Which of the orchestrator's branches and worktrees are stale: a pure judgement, from what exists
(`inventory`) and what the event log says of each request (`RequestState`).

- A worktree (and the agent's git directory beside it) lives only while its task runs. At start
  nothing runs here, so every one left by the previous run goes.
- A branch of a failed, cancelled, timed-out, interrupted or skipped task is kept
  `git.keep_failed_days` after the task ended (0: not at all), then deleted.
- A branch of a task that succeeded is kept until the person decides what becomes of the
  request's changes (Merge, Open PR or Discard delete the branches themselves; one left behind
  after a decision is stale); one no proposal names (nothing to propose, or left out as
  conflicting) is kept like a failed task's.
- Nothing of a request that is still open is touched, nor a branch someone has checked out
  outside our worktrees folder.
- `everything` (`tunnels worktrees prune --all`): all of ours that no open request needs.
- A branch whose request is not in the event log (it aged out) is deleted when its last commit
  is an unfinished task's and older than `keep_failed_days`; otherwise only with `everything`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from claude_tunnels.projections.changes import WAITING
from claude_tunnels.projections.requests import REQUEST_OPEN, TASK_ACTIVE, RequestState, TaskState
from claude_tunnels.tunnels.git.inventory import OurBranch, TaskFolder
from claude_tunnels.tunnels.git.tasks import branch_name


@dataclass(frozen=True)
class Verdict:
    """Whether to remove something of ours, and why (shown to the person)."""

    remove: bool
    why: str


@dataclass(frozen=True)
class Policy:
    """When and how much to remove."""

    now: datetime
    keep_failed_days: float
    prefix: str
    folder: Path
    """The orchestrator's worktrees folder (`<state_dir>/worktrees`)."""
    everything: bool = False
    """Remove all of ours that no open request needs (`prune --all`)."""
    nothing_runs: bool = False
    """No task runs here (the orchestrator is starting): every worktree is a leftover."""
    running: frozenset[str] = field(default_factory=frozenset)
    """Tasks this process runs right now (their worktrees are in use whatever the log says)."""


class RequestIndex:
    """The requests of the event log, found by the id as a branch or a folder spells it."""

    def __init__(self, requests: Mapping[str, RequestState]) -> None:
        self._by_id = dict(requests)
        self._by_lower = {request_id.lower(): state for request_id, state in requests.items()}

    def get(self, spelled: str) -> RequestState | None:
        """The request whose id is `spelled` (any case), if the log has it."""
        return self._by_id.get(spelled) or self._by_lower.get(spelled.lower())

    def all(self) -> list[RequestState]:
        """Every request of the log."""
        return list(self._by_id.values())


def waiting_decision(request: RequestState, branch: str) -> bool | None:
    """Whether `branch` (a task's, or the request branch) waits for the person's decision on the
    request's changes: True while its repository's changes are open or being decided, False once
    they were merged, pushed or discarded (those actions delete the branches themselves, so one
    still here was left behind), None when no proposal names it (nothing was proposed, or the
    task's changes were left out of the request branch)."""
    for repo in request.changes.values():
        names = {repo.proposal.branch} | {task.branch for task in repo.proposal.tasks if not task.left_out}
        if branch in names:
            return repo.status in WAITING
    return None


def live(request: RequestState) -> bool:
    """Whether the request is still open (routing, planning, waiting for approval, running) or has
    a task running."""
    return request.status in REQUEST_OPEN or any(task.status in TASK_ACTIVE for task in request.tasks.values())


def task_of_branch(request: RequestState, branch: OurBranch, prefix: str) -> TaskState | None:
    """The task of `request` whose branch `branch` is."""
    for key, task in request.tasks.items():
        recorded = task.facts.branch if task.facts is not None else ""
        ordinal = request.plan.ordinal(key) if request.plan is not None else 1
        if branch.name in (recorded, branch_name(prefix, request.request_id, task.workspace, ordinal)):
            return task
    return None


def judge_folder(entry: TaskFolder, requests: RequestIndex, policy: Policy) -> Verdict:
    """Whether an entry of the worktrees folder is stale."""
    if entry.kind == "other":
        return Verdict(True, "not a task's worktree")
    if entry.kind == "empty":
        return Verdict(True, "an empty request folder")
    if policy.nothing_runs:
        return Verdict(True, "left by a run that ended (nothing runs at start)")
    task_id = entry.name.removesuffix(".git") if entry.kind == "gitdir" else entry.name
    if task_id in policy.running:
        return Verdict(False, "its task is running")
    request = requests.get(entry.request)
    task = next((t for t in request.tasks.values() if t.task_id == task_id), None) if request else None
    if task is not None and task.status in TASK_ACTIVE:
        return Verdict(False, "its task is running")
    return Verdict(True, f"its task is {task.status}" if task is not None else "its task is not in the event log")


def judge_branch(branch: OurBranch, requests: RequestIndex, policy: Policy, kept_worktrees: frozenset[Path] = frozenset()) -> Verdict:
    """Whether a branch of ours is stale; `kept_worktrees` are worktrees of ours that stay."""
    if branch.checked_out is not None:
        real = Path(os.path.realpath(branch.checked_out))
        if not real.is_relative_to(os.path.realpath(policy.folder)):
            return Verdict(False, f"checked out at {branch.checked_out}")
        if branch.checked_out in kept_worktrees:
            return Verdict(False, "its worktree is in use")
    request = requests.get(branch.request)
    if request is None:
        if policy.everything:
            return Verdict(True, "its request is not in the event log")
        if branch.unfinished and _past(branch.tip_at, policy):
            return Verdict(True, f"an unfinished task's, last commit {_ago(branch.tip_at, policy)} ago; git.keep_failed_days is {policy.keep_failed_days:g}")
        return Verdict(False, "its request is not in the event log (prune --all removes it)")
    if live(request):
        if request.status not in REQUEST_OPEN:
            return Verdict(False, "a task of its request is running")
        return Verdict(False, f"its request is {'running' if request.status == 'executing' else request.status.replace('_', ' ')}")
    task = task_of_branch(request, branch, policy.prefix)
    status: str = task.status if task is not None else "succeeded"
    waiting = waiting_decision(request, task.facts.branch if task is not None and task.facts is not None else branch.name)
    if status == "succeeded" and waiting is not False:
        if policy.everything:
            return Verdict(True, "succeeded, not yet decided (--all)")
        if waiting:
            return Verdict(False, "succeeded: waits for the person's decision (Merge / Open PR / Discard)")
        # Not in any proposal (nothing to propose, or left out as conflicting): kept like a failed
        # task's, but never within the hour after its request ended (its proposal may be on its way).
        if not request.changes and request.ended_at is not None and policy.now - request.ended_at < timedelta(hours=1):
            return Verdict(False, "succeeded: its request's changes are being proposed")
        status = "succeeded, not proposed,"
    elif waiting is False:
        return Verdict(True, "the person decided what becomes of its request's changes")
    ended = (task.ended_at if task is not None else None) or request.ended_at or branch.tip_at
    if policy.everything or _past(ended, policy):
        return Verdict(True, f"{status.replace('_', ' ')} {_ago(ended, policy)} ago; git.keep_failed_days is {policy.keep_failed_days:g}")
    until = ended + timedelta(days=policy.keep_failed_days)
    return Verdict(False, f"{status.replace('_', ' ')}: kept until {until:%Y-%m-%d %H:%M} UTC by git.keep_failed_days")


def _past(when: datetime, policy: Policy) -> bool:
    return policy.now - when >= timedelta(days=policy.keep_failed_days)


def _ago(when: datetime, policy: Policy) -> str:
    return age(policy.now - when)


def age(span: timedelta) -> str:
    """A short, rounded duration: `40 s`, `12 min`, `5 h`, `3 d`."""
    seconds = max(0, int(span.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
