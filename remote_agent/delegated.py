"""What a child orchestrator tells its parent about the request a parent's task became. Pure.

The child runs the task as a request of its own (route, plan, phases in its own tree) and reports
on the remote agents' protocol: progress lines in brief (its route, plan, phases and tasks), then
one `Finished` built from the request's folded state: a summary, each of its workspaces' outcome
in brief, the files changed (named by workspace), the downstream context of its tasks, and the
request's whole cost.
"""

from __future__ import annotations

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.execution import (
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestFailed,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import ClarificationNeeded, PlanProposed, PlanRejected, RouteDecided
from claude_tunnels.events.values import CONTEXT_CHARS, MAX_CHANGED_FILES, SUMMARY_CHARS, TaskResult
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.remote_agent.protocol import Finished

LINE_CHARS = 200
"""A progress line's bound (the parent cuts it again to its own)."""


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def progress_line(event: AnyEvent) -> str | None:
    """The line the parent is told for one event of the child's request (None: not worth a line)."""
    match event:
        case RouteDecided():
            return f"routed to {', '.join(event.projects) or 'no project'}"
        case PlanProposed():
            phases = len(event.plan.phases)
            names = ", ".join(task.workspace for task in event.plan.tasks)
            return _cut(f"planned {len(event.plan.tasks)} task(s) in {phases} phase(s): {names}", LINE_CHARS)
        case PlanRejected():
            return _cut(f"plan refused: {event.reason}", LINE_CHARS)
        case PhaseStarted():
            return _cut(f"phase {event.phase}: {', '.join(event.workspaces)}", LINE_CHARS)
        case WorkspaceTaskStarted():
            return f"{event.workspace} started"
        case WorkspaceTaskSucceeded():
            return _cut(f"{event.workspace} succeeded: {event.result.summary}", LINE_CHARS)
        case WorkspaceTaskFailed():
            return _cut(f"{event.workspace} failed: {event.error}", LINE_CHARS)
        case WorkspaceTaskTimedOut() | WorkspaceTaskCancelled() | WorkspaceTaskInterrupted() | WorkspaceTaskSkipped():
            return f"{event.workspace} {event.type.removeprefix('task.').replace('_', ' ')}"
    return None


NESTED_INDENT = "  "
"""How a grandchild's line is set off from its child's when it is passed up one more level."""


def nested_line(event: WorkspaceProgress, state: RequestState) -> str | None:
    """A progress line of one of this request's tasks that is itself a child orchestrator's
    request, passed up indented and named (`  ml/us: phase 1: …`); None for an agent's progress
    (its tool uses stay at this level). So a top sees every level's route, plan and tasks, nested."""
    task = next((t for t in state.tasks.values() if t.task_id == event.task_id), None)
    if task is None or not task.child_request_id:
        return None
    deeper = event.detail[: len(event.detail) - len(event.detail.lstrip(" "))]  # its own children's, already indented
    return NESTED_INDENT + deeper + _cut(f"{event.workspace}: {event.detail}", LINE_CHARS)


def changes_lines(state: RequestState, where: str) -> list[str]:
    """Each task's committed changes in git, as the report names them: `backend/api: repo
    backend/api, branch tunnels/01J…-1 at 1a2b3c4d5e6f (2 files; waiting for a decision at kr/product)`."""
    lines = []
    for task in state.tasks.values():
        facts = task.facts
        if facts is None or not facts.commit or not facts.branch:
            continue
        files = f"{len(facts.files)} file(s); " if facts.files else ""
        lines.append(_cut(
            f"{task.workspace}: repo {facts.repo or '.'}, branch {facts.branch} at {facts.commit[:12]} ({files}waiting for a decision at {where})",
            LINE_CHARS,
        ))
    return lines


def ends_request(event: AnyEvent) -> bool:
    """Whether the child's request is over with `event` (an end, or a question the child cannot put to anyone)."""
    return isinstance(event, RequestCompleted | RequestFailed | RequestCancelled | ClarificationNeeded)


def outcomes(state: RequestState) -> list[str]:
    """Each of the child's workspaces' outcome in brief: `recsys/trainer: succeeded (trained)`."""
    lines = []
    for task in state.tasks.values():
        workspace = task.workspace
        detail = task.result.summary if task.result is not None else task.error
        lines.append(_cut(f"{workspace}: {task.status}" + (f" ({detail})" if detail else ""), LINE_CHARS))
    return lines


def finished(task_id: str, request_id: str, state: RequestState, end: AnyEvent, where: str = "the child") -> Finished:
    """The parent's `Finished` report for its task `task_id`, which ran as the child's request
    `request_id` (folded into `state`) and ended with `end`; `where` names the child (its branches wait there)."""
    usage = state.usage
    named = f"request {request_id}"
    match end:
        case RequestCompleted() if end.failed == 0 and not end.stopped:
            return Finished(task_id=task_id, outcome="succeeded", result=result_of(request_id, state, end, where), usage=usage)
        case RequestCompleted():
            why = end.stopped or f"{end.failed} of its task(s) failed"
            brief = "; ".join(outcomes(state))
            return Finished(task_id=task_id, outcome="failed", error=_cut(f"{named}: {why}. {brief}", SUMMARY_CHARS), usage=usage)
        case RequestCancelled():
            return Finished(task_id=task_id, outcome="cancelled", error=f"{named} was cancelled by {end.by}", usage=usage)
        case RequestFailed():
            return Finished(task_id=task_id, outcome="failed", error=_cut(f"{named} failed at {end.stage}: {end.reason}", SUMMARY_CHARS), usage=usage)
        case ClarificationNeeded():
            return Finished(task_id=task_id, outcome="failed", error=_cut(f"{named} needs a clearer task: {end.question}", SUMMARY_CHARS), usage=usage)
    return Finished(task_id=task_id, outcome="failed", error=f"{named} ended with {end.type}", usage=usage)


def result_of(request_id: str, state: RequestState, completed: RequestCompleted, where: str = "the child") -> TaskResult:
    """The task result a succeeded child request stands for at the parent: its summary, each
    workspace's outcome, and the repositories and branches it changed (decided at the child)."""
    changes = changes_lines(state, where)
    summary = "\n".join([
        f"request {request_id}: {completed.summary.strip()}", *outcomes(state), *(["changes:", *changes] if changes else []),
    ])
    files = [f"{task.workspace}/{path}" for task in state.tasks.values() if task.result for path in task.result.changed_files]
    tests = {task.result.test_result for task in state.tasks.values() if task.result is not None}
    context = "\n\n".join(
        f"{task.workspace}: {task.result.downstream_context}" for task in state.tasks.values()
        if task.result is not None and task.result.downstream_context
    )
    return TaskResult(
        summary=_cut_block(summary, SUMMARY_CHARS), changed_files=files[:MAX_CHANGED_FILES],
        test_result="fail" if "fail" in tests else "pass" if tests == {"pass"} else "skip",
        downstream_context=_cut_block(context, CONTEXT_CHARS),
    )


def _cut_block(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
