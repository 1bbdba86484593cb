"""The request view: a pure fold of everything that happened to each request.

It is what the task log renders, what `status` answers, and what crash recovery reconciles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, assert_never

import msgspec
from msgspec.structs import replace

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import (
    ChangesAnswered,
    ChangesDecided,
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
)
from claude_tunnels.events.conversation import (
    CancelRequested,
    ConfirmationAnswered,
    ConfirmationCancelled,
    ConfirmationExpired,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationRequested,
    MessageQueued,
    MessageReceived,
    NoticeIssued,
    PermissionAnswered,
    PlanRevised,
    ReplyPosted,
    RequestOpened,
    Turn,
)
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseCompleted,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestFailed,
    RequestResumed,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import (
    ClarificationNeeded,
    DirectAnswerGiven,
    PlanApproved,
    PlanProposed,
    PlanRejected,
    RouteDecided,
)
from claude_tunnels.events.values import Delegation, Plan, TaskFacts, TaskResult, Usage
from claude_tunnels.projections.changes import RepoState, changes_after

RequestStatus = Literal[
    "routing", "clarifying", "planning", "awaiting_approval", "executing", "completed", "failed", "cancelled"
]
TaskStatus = Literal[
    "pending", "dispatched", "running", "succeeded", "failed", "cancelled", "timed_out", "skipped", "interrupted"
]
TASK_ACTIVE: frozenset[str] = frozenset({"dispatched", "running"})
MAX_REFUSALS = 20
MAX_NESTED = 12
"""How many of a child orchestrator's progress lines a task keeps (the latest)."""
"""Refusals kept per task (the count goes on)."""
REQUEST_OPEN: frozenset[str] = frozenset({"routing", "planning", "awaiting_approval", "executing"})


class TaskState(msgspec.Struct, frozen=True, kw_only=True):
    """One task of a request (for one workspace; a workspace may have several)."""

    workspace: str
    task: str
    phase: int
    task_id: str = ""
    status: TaskStatus = "pending"
    target: str = "local"
    attempt: int = 0
    """How often it was dispatched: 2 once a restart ran it again (`request.resumed`)."""
    result: TaskResult | None = None
    facts: TaskFacts | None = None
    """What the orchestrator found the task did (branch, commit, diff, tests), beside its claims."""
    error: str = ""
    usage: Usage = Usage()
    last_progress: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    refused: int = 0
    """Actions of the agent that were refused (by the policy, the sandbox, a person or a deadline)."""
    refusals: list[str] = []
    """The first `MAX_REFUSALS` of them, one line each (`Bash curl …: not in the allowlist`)."""
    child_request_id: str = ""
    """The request a child orchestrator opened for this task (its own `tunnels replay` id)."""
    nested: list[str] = []
    """A child orchestrator's task: its last `MAX_NESTED` progress lines (its route, plan, phases
    and tasks, and its own children's, indented), shown nested under the task."""


class Question(msgspec.Struct, frozen=True, kw_only=True):
    """A permission question relayed to the conversation, and its answer once given."""

    permission_id: str
    task_id: str
    workspace: str
    tool: str
    detail: str
    reason: str
    asked_at: datetime
    expires_at: datetime | None = None
    approvers: list[str] = []
    decided: bool = False
    allowed: bool = False
    by: str = ""


class RequestState(msgspec.Struct, frozen=True, kw_only=True):
    """One request, from the message that opened it to its end."""

    request_id: str
    session_key: str
    text: str
    requester: str
    channel: str
    opened_at: datetime
    status: RequestStatus = "routing"
    projects: list[str] = []
    route_method: str = ""
    plan: Plan | None = None
    revision: int = 0
    revisions: list[str] = []
    approved_by: str = ""
    approval_expires_at: datetime | None = None
    phase: int = 0
    tasks: dict[str, TaskState] = {}
    """The plan's tasks by key (`PlannedTask.key`: the task's id, or its workspace in a plan without ids)."""
    answer: str = ""
    reason: str = ""
    usage: Usage = Usage()
    ended_at: datetime | None = None
    history: list[Turn] = []
    delegation: Delegation | None = None
    """The parent orchestrator's task this request runs (None: a person asked here)."""
    """The earlier turns recorded on `request.opened`: what the router, the planner and the direct
    answer are given (see `actors.history`). Dropped when the request ends (the stream keeps it)."""
    cancel_requested_by: str = ""
    """Who asked to stop the running request (before its end was recorded)."""
    questions: dict[str, Question] = {}
    """Permission questions relayed to the conversation, by id (pending and answered)."""
    changes: dict[str, RepoState] = {}
    """The request's changes per git repository once it ended (`changes.proposed`), and what became of them."""
    planned_projects: list[str] = []
    """Every project a plan of this request touched, earlier revisions' included (the task log
    is filed under those the current plan touches and taken out of the others)."""

    def pending_questions(self) -> list[Question]:
        """The questions still waiting for an answer, oldest first."""
        return sorted((q for q in self.questions.values() if not q.decided), key=lambda q: q.asked_at)


SETTLED_CHANGES: frozenset[str] = frozenset({"merged", "pushed", "discarded"})


def settled(state: RequestState) -> bool:
    """Whether nothing more is expected of the request: it ended, no question of it waits for an
    answer and each repository's changes were merged, pushed or discarded. (An event may still
    come for it, a late report or a decision taken elsewhere: the projection takes it back then.)"""
    return (
        state.ended_at is not None and state.status not in REQUEST_OPEN
        and all(change.status in SETTLED_CHANGES for change in state.changes.values())
        and all(question.decided for question in state.questions.values())
    )


def task_key(state: RequestState, task_id: str, workspace: str) -> str:
    """The key in `state.tasks` of the task an event names (by its `task_id`, else its workspace)."""
    for key, task in state.tasks.items():
        if task.task_id and task.task_id == task_id and task.workspace == workspace:
            return key
    if state.plan is None:
        return workspace
    return state.plan.key_of(state.request_id, task_id, workspace)


def _task(state: RequestState, event: _TaskEvent, **changes: object) -> RequestState:
    key = task_key(state, event.task_id, event.workspace)
    current = state.tasks.get(key)
    if current is None:
        return state
    return replace(state, tasks={**state.tasks, key: replace(current, **changes)})


_TaskEvent = (
    WorkspaceTaskDispatched | WorkspaceTaskStarted | WorkspaceProgress | WorkspaceTaskSucceeded | WorkspaceTaskFailed
    | WorkspaceTaskTimedOut | WorkspaceTaskCancelled | WorkspaceTaskSkipped | WorkspaceTaskInterrupted | PermissionDecided
)


def _add_usage(state: RequestState, usage: Usage | None) -> RequestState:
    return state if usage is None else replace(state, usage=state.usage + usage)


def _skipped_because(event: WorkspaceTaskSkipped) -> str:
    if event.reason:
        return f"not run: {event.reason}"
    return f"skipped: {', '.join(event.because)} did not succeed"


def open_request(event: RequestOpened) -> RequestState:
    """The state of a request just opened."""
    return RequestState(
        request_id=event.request_id or "",
        session_key=event.session_key,
        text=event.text,
        requester=event.requester,
        channel=event.channel,
        opened_at=event.at,
        history=list(event.history),
        delegation=event.delegation,
    )


def evolve(state: RequestState, event: AnyEvent) -> RequestState:
    """The request after `event`. Pure: no I/O, no clock.

    Every event type is named (mypy checks it: a new one must be handled or listed as changing
    nothing, else `assert_never` fails the type check)."""
    match event:
        case RouteDecided():
            state = _add_usage(state, event.usage)
            return replace(state, status="planning", projects=list(event.projects), route_method=event.method)
        case ClarificationNeeded():
            state = _add_usage(state, event.usage)
            return replace(state, status="clarifying", answer=event.question, ended_at=event.at, history=[])
        case DirectAnswerGiven():
            return replace(_add_usage(state, event.usage), answer=event.text)
        case PlanProposed():
            state = _add_usage(state, event.usage)
            tasks = {
                key: TaskState(workspace=planned.workspace, task=planned.task, phase=index)
                for index, phase in enumerate(event.plan.phases, start=1)
                for key in phase
                for planned in (event.plan.task_for(key),)
            }
            # `reason` is cleared: a plan rejected before this one (and planned again) is history.
            planned = list(dict.fromkeys([*state.planned_projects, *event.plan.projects]))
            return replace(
                state, status="awaiting_approval", plan=event.plan, revision=event.revision, tasks=tasks, reason="",
                planned_projects=planned,
            )
        case PlanRejected():
            return replace(_add_usage(state, event.usage), reason=event.reason)
        case PlanRevised():
            return replace(state, status="planning", revisions=[*state.revisions, event.text], approval_expires_at=None)
        case ConfirmationRequested():
            return replace(state, approval_expires_at=event.expires_at)
        case ConfirmationExpired():
            return replace(state, reason="approval expired")
        case PlanApproved():
            return replace(state, status="executing", approved_by=event.by)
        case PhaseStarted():
            return replace(state, phase=event.phase)
        case WorkspaceTaskDispatched():
            return _task(state, event, task_id=event.task_id, status="dispatched", target=event.target, attempt=event.attempt,
                error="", started_at=None, last_progress="", child_request_id="", nested=[],
            )
        case WorkspaceTaskStarted():
            return _task(state, event, status="running", started_at=event.at, child_request_id=event.child_request_id)
        case WorkspaceProgress():
            current = state.tasks.get(task_key(state, event.task_id, event.workspace))
            if current is not None and current.child_request_id:
                return _task(state, event, last_progress=event.detail, nested=[*current.nested, event.detail][-MAX_NESTED:])
            return _task(state, event, last_progress=event.detail)
        case WorkspaceTaskSucceeded():
            state = _add_usage(state, event.usage)
            return _task(state, event, status="succeeded", result=event.result, facts=event.facts, usage=event.usage, ended_at=event.at)
        case WorkspaceTaskFailed():
            state = _add_usage(state, event.usage)
            return _task(state, event, status="failed", error=event.error, usage=event.usage, ended_at=event.at)
        case WorkspaceTaskTimedOut():
            return _task(state, event, status="timed_out", error=f"timed out after {event.timeout_s:g} s", ended_at=event.at)
        case WorkspaceTaskCancelled():
            return _task(state, event, status="cancelled", error=event.reason, ended_at=event.at)
        case WorkspaceTaskSkipped():
            return _task(state, event, status="skipped", error=_skipped_because(event), ended_at=event.at)
        case WorkspaceTaskInterrupted():
            return _task(state, event, status="interrupted", error=event.reason, ended_at=event.at)
        case PermissionRequested() if event.permission_id and event.permission_id not in state.questions:
            question = Question(
                permission_id=event.permission_id, task_id=event.task_id, workspace=event.workspace, tool=event.tool,
                detail=event.detail, reason=event.reason, asked_at=event.at, expires_at=event.expires_at,
                approvers=list(event.approvers),
            )
            return replace(state, questions={**state.questions, event.permission_id: question})
        case PermissionDecided():
            return _decided(state, event)
        case RequestResumed():
            # A task run again starts over: it waits for its new dispatch.
            for key in event.rerun:
                if (task := state.tasks.get(key)) is not None:
                    state = replace(state, tasks={**state.tasks, key: replace(task, status="pending", started_at=None, last_progress="")})
            return state
        case RequestCompleted():
            return replace(state, status="completed", answer=event.summary, reason=event.stopped, ended_at=event.at, history=[])
        case RequestFailed():
            state = _add_usage(state, event.usage)
            return replace(state, status="failed", reason=event.reason, ended_at=event.at, history=[])
        case RequestCancelled():
            return replace(state, status="cancelled", reason=f"cancelled by {event.by}", ended_at=event.at, history=[])
        case CancelRequested():
            # Kept so a supervisor resumed after a restart still knows the person said stop.
            return replace(state, cancel_requested_by=state.cancel_requested_by or event.by)
        case ChangesProposed() | ChangesDecided() | ChangesMerged() | ChangesRefused() | ChangesPushed() | ChangesDiscarded():
            return replace(state, changes=changes_after(state.changes, event))
        case (
            PermissionRequested()  # asked already (a redelivery), or not a relayed question
            | RequestOpened()  # opens the request: `fold` makes its first state
            | MessageReceived() | MessageQueued() | NoticeIssued() | ReplyPosted()
            | ConfirmationAnswered() | ConfirmationGiven() | ConfirmationRefused() | ConfirmationCancelled()
            | PermissionAnswered() | PhaseCompleted() | ChangesAnswered() | ChangesOverlapped()
        ):
            return state  # nothing a request's state keeps
        case _:
            assert_never(event)


def _decided(state: RequestState, event: PermissionDecided) -> RequestState:
    question = state.questions.get(event.permission_id) if event.permission_id else None
    if question is not None:
        if question.decided:
            return state  # the first answer counts (a late timeout or a second click changes nothing)
        answered = replace(question, decided=True, allowed=event.allowed, by=event.by)
        state = replace(state, questions={**state.questions, event.permission_id: answered})
    task = state.tasks.get(event.workspace)
    if event.allowed or task is None or task.task_id != event.task_id:
        return state
    line = f"{event.tool} {event.detail}".strip()[:200] + f": {event.reason}"[:300]
    refusals = [*task.refusals, line] if len(task.refusals) < MAX_REFUSALS else task.refusals
    return _task(state, event, refused=task.refused + 1, refusals=refusals)


def fold(requests: dict[str, RequestState], event: AnyEvent) -> None:
    """Apply `event` to a dict of requests in place (the projection's inner step)."""
    if isinstance(event, RequestOpened):
        if event.request_id and event.request_id not in requests:
            requests[event.request_id] = open_request(event)
        return
    request_id = getattr(event, "request_id", None)
    if request_id is not None and (current := requests.get(request_id)) is not None:
        requests[request_id] = evolve(current, event)
