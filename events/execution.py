"""Events of running a plan: phases, workspace tasks, and the end of a request (request subjects)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from claude_tunnels.events.base import RequestEvent
from claude_tunnels.events.values import TaskFacts, TaskResult, Usage


class PhaseStarted(RequestEvent, frozen=True, kw_only=True, tag="phase.started"):
    """Phase `phase` (1-based) began; its workspaces run in parallel up to the configured limit."""

    phase: int
    workspaces: list[str]


class WorkspaceTaskDispatched(RequestEvent, frozen=True, kw_only=True, tag="task.dispatched"):
    """A task was handed to a workspace actor (`target` is "local" or "remote"), with its upstream
    tasks named. `attempt` 2 is the run again of a task a restart interrupted (`request.resumed`)."""

    task_id: str
    workspace: str
    phase: int
    task: str
    upstream: list[str] = []
    target: str = "local"
    attempt: int = 1


class WorkspaceTaskStarted(RequestEvent, frozen=True, kw_only=True, tag="task.started"):
    """A workspace actor started the agent session for the task (`agent` says where); a child
    orchestrator that took the task names the request it opened for it (`child_request_id`)."""

    task_id: str
    workspace: str
    agent: str = ""
    child_request_id: str = ""


class WorkspaceProgress(RequestEvent, frozen=True, kw_only=True, tag="task.progress"):
    """What a running agent is doing (a tool use or text), throttled."""

    task_id: str
    workspace: str
    kind: Literal["tool", "text"]
    detail: str


class PermissionRequested(RequestEvent, frozen=True, kw_only=True, tag="permission.requested"):
    """An agent wants to do what the policy leaves to a person (`reason`, decided by `rule`); the
    question `permission_id` waits in the conversation for one of `approvers` until `expires_at`."""

    task_id: str
    workspace: str
    tool: str
    detail: str
    permission_id: str = ""
    reason: str = ""
    rule: str = ""
    expires_at: datetime | None = None
    approvers: list[str] = []


class PermissionDecided(RequestEvent, frozen=True, kw_only=True, tag="permission.decided"):
    """A tool use was allowed or denied, with the reason and the `rule` that decided.

    `by` is `policy` (the permission rules), `sandbox` (the OS sandbox refused it while it ran),
    `timeout` or `orchestrator` (a question nobody answered in time, or whose task ended), or the
    person who answered the question `permission_id`. `detail` is a bounded summary of the input.
    """

    task_id: str
    workspace: str
    tool: str
    allowed: bool
    reason: str
    by: str = "policy"
    detail: str = ""
    rule: str = ""
    permission_id: str = ""


class WorkspaceTaskSucceeded(RequestEvent, frozen=True, kw_only=True, tag="task.succeeded"):
    """The agent finished and returned its structured result (its claims); `facts` is what the
    orchestrator found itself: the branch and commit, the real diff, the declared tests' outcome."""

    task_id: str
    workspace: str
    result: TaskResult
    usage: Usage = Usage()
    facts: TaskFacts | None = None


class WorkspaceTaskFailed(RequestEvent, frozen=True, kw_only=True, tag="task.failed"):
    """The agent crashed, errored or returned an invalid result."""

    task_id: str
    workspace: str
    error: str
    usage: Usage = Usage()


class WorkspaceTaskCancelled(RequestEvent, frozen=True, kw_only=True, tag="task.cancelled"):
    """The task was stopped because the request was cancelled."""

    task_id: str
    workspace: str
    reason: str = "cancelled"


class WorkspaceTaskTimedOut(RequestEvent, frozen=True, kw_only=True, tag="task.timed_out"):
    """The agent did not finish within its timeout and was stopped."""

    task_id: str
    workspace: str
    timeout_s: float


class WorkspaceTaskSkipped(RequestEvent, frozen=True, kw_only=True, tag="task.skipped"):
    """The task did not run: tasks it depends on did not succeed (`because`), or, with `reason`,
    the request stopped before its phase (e.g. the request's cost budget was spent)."""

    task_id: str
    workspace: str
    because: list[str]
    reason: str = ""


class WorkspaceTaskInterrupted(RequestEvent, frozen=True, kw_only=True, tag="task.interrupted"):
    """The task was running when the orchestrator (or its agent) went away; it is not resumed."""

    task_id: str
    workspace: str
    reason: str


class PhaseCompleted(RequestEvent, frozen=True, kw_only=True, tag="phase.completed"):
    """Every task of the phase ended; lists how each ended."""

    phase: int
    succeeded: list[str] = []
    failed: list[str] = []
    skipped: list[str] = []


class RequestResumed(RequestEvent, frozen=True, kw_only=True, tag="request.resumed"):
    """The orchestrator restarted and took the request up again, told once to the person.

    `stage` says where it was: `routing` or `planning` (nothing had run: it is routed or planned
    again), or `execution` (an approved plan goes on). For an execution, `finished` tasks stay
    finished, `rerun` ones (interrupted in a git worktree) run again from a clean worktree, and
    `interrupted` ones (outside git, or interrupted a second time) are reported and not run again.
    """

    stage: Literal["routing", "planning", "execution"]
    finished: int = 0
    rerun: list[str] = []
    interrupted: list[str] = []


class RequestCompleted(RequestEvent, frozen=True, kw_only=True, tag="request.completed"):
    """The plan ran to its end, or `stopped` says why it stopped early (its later phases never
    started); `summary` is the answer posted to the chat; usage is the total."""

    summary: str
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    usage: Usage = Usage()
    stopped: str = ""


class RequestFailed(RequestEvent, frozen=True, kw_only=True, tag="request.failed"):
    """The request could not go on (routing/planning error, expiry, restart); `reason` is told to the person.

    `usage` is what the failing step's own agent call cost (a router or planner answer that
    could not be used, a session that failed), added to the request's total; None when that
    call cost nothing or was counted by an earlier event. Unlike `request.completed`, it is not
    the total."""

    reason: str
    stage: Literal["routing", "planning", "approval", "execution", "recovery"] = "execution"
    usage: Usage | None = None


class RequestCancelled(RequestEvent, frozen=True, kw_only=True, tag="request.cancelled"):
    """The request was cancelled by a person; running agents were stopped."""

    by: str
    usage: Usage = Usage()
