"""What a person sees for each event, as plain text. Chat adapters format it for their chat."""

from __future__ import annotations

from claude_tunnels.actors.facts import facts_line
from claude_tunnels.channels.changes_text import outcome_text, proposal_text
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import (
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
)
from claude_tunnels.events.conversation import (
    ConfirmationCancelled,
    ConfirmationExpired,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationRequested,
    MessageQueued,
    NoticeIssued,
    PlanRevised,
    RequestOpened,
)
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestFailed,
    RequestResumed,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import ClarificationNeeded, DirectAnswerGiven, PlanProposed, PlanRejected, RouteDecided
from claude_tunnels.events.values import CHILD_PLAN_TOOL, Plan
from claude_tunnels.projections.requests import RequestState


def plan_text(plan: Plan, request_id: str) -> str:
    """The plan as shown for approval: the projects it touches, phases, one line per task (its
    workspace, its id when the plan has ids, the tasks it runs after), then its warnings (a task that runs before or alongside what it depends on)."""
    lines = [f"Plan for request {request_id}: {plan.label}", f"Projects: {', '.join(plan.projects)}"]
    for index, phase in enumerate(plan.phases, start=1):
        lines.append(f"Phase {index}:")
        for key in phase:
            task = plan.task_for(key)
            first_line = (task.task.splitlines() or [""])[0]
            after = f" (after {', '.join(task.depends_on)})" if task.depends_on else ""
            lines.append(f"  • {plan.label_of(key)}{after}: {first_line}")
    lines += plan.warnings
    return "\n".join(lines)


def question_text(event: PermissionRequested) -> str:
    """A relayed permission question, as asked in the conversation."""
    who = event.approvers[0] if event.approvers else "the requester"
    deadline = f"; no answer by {event.expires_at:%H:%M} UTC means deny" if event.expires_at else ""
    if event.tool == CHILD_PLAN_TOOL:  # a child orchestrator's plan, nested under its task here
        return (
            f"❓ {event.workspace} (a child orchestrator) asks to approve its plan: {event.detail}\n"
            f"Why I ask: {event.reason}.\n"
            f"Approve or refuse? ({who} or an approver may answer{deadline}.)"
        )
    return (
        f"❓ {event.workspace} asks to use {event.tool}: {event.detail}\n"
        f"Why I ask: {event.reason}.\n"
        f"Allow or deny? ({who} or an approver may answer{deadline}.)"
    )


def decision_text(event: PermissionDecided) -> str:
    """The answer to a relayed question, or (as progress) a refusal by the policy or the sandbox."""
    mark = "✓ Allowed" if event.allowed else "✗ Denied"
    return f"{mark} for {event.workspace}: {event.tool} {event.detail} ({event.reason})"


def resumed_text(event: RequestResumed) -> str:
    """What a person is told once when a restarted orchestrator takes their request up again."""
    rid = event.request_id
    if event.stage == "routing":
        return f"The orchestrator restarted before request {rid} was routed; nothing had run, so it is routed again."
    if event.stage == "planning":
        return f"The orchestrator restarted while request {rid} was being planned; nothing had run, so it is planned again."
    parts = [f"{event.finished} task{'s' if event.finished != 1 else ''} had finished and stay done"] if event.finished else []
    if event.rerun:
        parts.append(f"interrupted, run again from the start: {', '.join(event.rerun)}")
    if event.interrupted:
        parts.append(f"interrupted, not run again: {', '.join(event.interrupted)}")
    return f"Request {rid} resumed after an orchestrator restart" + (f": {'; '.join(parts)}." if parts else ".")


def completed_headline(event: RequestCompleted) -> str:
    """"Done" only when every task succeeded; otherwise it says the request finished with failures."""
    cost = f"${event.usage.cost_usd:.4f}"
    if event.failed or event.skipped:
        counts = ", ".join(f"{n} {what}" for n, what in ((event.failed, "failed"), (event.skipped, "skipped")) if n)
        return f"Finished with failures (request {event.request_id}, {cost}): {counts}."
    return f"Done (request {event.request_id}, {cost})."


def render(event: AnyEvent, *, progress: bool = True) -> str | None:
    """The text for `event`, or None when it is not shown to people."""
    match event:
        case RequestOpened():
            return f"Working on it (request {event.request_id})."
        case RouteDecided():
            # The route, not the plan's projects yet: the plan names those (neighbours included).
            return f"Routed to {', '.join(event.projects)}. Planning…" if event.projects else None
        case ClarificationNeeded():
            return f"Question: {event.question}"
        case DirectAnswerGiven():
            return event.text
        case PlanProposed():
            return plan_text(event.plan, event.request_id)
        case ConfirmationRequested():
            return f"Reply yes to run it, cancel to drop it, or describe what to change. (Expires at {event.expires_at:%H:%M} UTC.)"
        case ConfirmationGiven():
            return f"Approved by {event.by}." if not event.auto else "Approved automatically."
        case ConfirmationRefused():
            return f"Not accepted: {event.reason}."
        case ConfirmationCancelled():
            return None  # the request.cancelled that follows says it (one notice per cancel)
        case ConfirmationExpired():
            return None  # the request.failed that follows says it
        case PlanRevised():
            return "Revising the plan…"
        case PlanRejected():
            return None  # the request.failed that follows says it
        case MessageQueued():
            return f"Queued (#{event.position}): I'll handle it when the current request ends."
        case NoticeIssued():
            return event.text
        case PhaseStarted():
            return f"Phase {event.phase}: {', '.join(event.workspaces) or 'nothing to run'}"
        case WorkspaceTaskStarted():
            return f"  ▶ {event.workspace} started" if progress else None
        case WorkspaceProgress():
            return f"    {event.workspace}: {event.detail}" if progress else None
        case PermissionRequested():
            return question_text(event)
        case PermissionDecided() if event.permission_id:
            return decision_text(event)
        case PermissionDecided() if not event.allowed:
            return f"    {event.workspace}: refused {event.tool} {event.detail}: {event.reason}" if progress else None
        case WorkspaceTaskSucceeded():
            return f"  ✓ {event.workspace}: {event.result.summary} ({facts_line(event.facts, event.result)})"
        case WorkspaceTaskFailed():
            return f"  ✗ {event.workspace} failed: {event.error}"
        case WorkspaceTaskTimedOut():
            return f"  ✗ {event.workspace} timed out after {event.timeout_s:g} s"
        case WorkspaceTaskSkipped() if event.reason:
            return f"  – {event.workspace} not run: {event.reason}"
        case WorkspaceTaskSkipped():
            return f"  – {event.workspace} skipped: {', '.join(event.because)} did not succeed"
        case WorkspaceTaskCancelled():
            return f"  ■ {event.workspace}: {event.reason}"
        case WorkspaceTaskInterrupted():
            return f"  ■ {event.workspace} interrupted: {event.reason}"
        case RequestCompleted() if event.stopped:
            return f"Request {event.request_id} {event.stopped}.\n{event.summary}"
        case RequestResumed():
            return resumed_text(event)
        case RequestCompleted():
            return f"{completed_headline(event)}\n{event.summary}"
        case RequestFailed():
            return f"Request {event.request_id} failed: {event.reason}"
        case RequestCancelled():
            return f"Request {event.request_id} cancelled by {event.by}."
        case ChangesProposed():
            return proposal_text(event)
        case ChangesMerged() | ChangesRefused() | ChangesPushed() | ChangesDiscarded() | ChangesOverlapped():
            return outcome_text(event)
    return None


def repeats_the_answer(event: AnyEvent, request: RequestState | None) -> bool:
    """Whether `event` is the `request.completed` of a direct answer: it says again what the
    `answer.direct` just posted said, so it is not shown (each reply once)."""
    return isinstance(event, RequestCompleted) and not event.stopped and request is not None and request.plan is None
