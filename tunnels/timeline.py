"""One readable line per event, for `tunnels replay` and `tunnels events tail`."""

from __future__ import annotations

from datetime import datetime

import msgspec

from claude_tunnels.actors.facts import diffstat
from claude_tunnels.events.base import Event
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
    ConfirmationAnswered,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationRequested,
    MessageQueued,
    MessageReceived,
    NoticeIssued,
    PermissionAnswered,
    PlanRevised,
    RequestOpened,
)
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseCompleted,
    PhaseStarted,
    RequestCompleted,
    RequestFailed,
    RequestResumed,
    WorkspaceProgress,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import ClarificationNeeded, DirectAnswerGiven, PlanApproved, PlanProposed, RouteDecided
from claude_tunnels.events.values import TaskFacts, Usage


def _short(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def detail(event: Event) -> str:
    """What happened, in a few words."""
    match event:
        case MessageReceived():
            return f"{event.sender}: {_short(event.text)}" + (f" [{event.action}]" if event.action else "")
        case RequestOpened() if event.delegation is not None:
            given = event.delegation
            return (f"opened for parent request {given.request_id} (task {given.task_id} of {given.parent}, "
                    f"approved by {given.approved_by or 'the parent'}): {_short(event.text)}")
        case RequestOpened():
            return f"opened by {event.requester}: {_short(event.text)}"
        case MessageQueued():
            return f"queued #{event.position}: {_short(event.text)}"
        case NoticeIssued():
            return f"{event.level}: {_short(event.text)}"
        case ConfirmationRequested():
            return f"approval asked of {', '.join(event.approvers) or event.requester}, expires {event.expires_at:%H:%M:%S}"
        case ConfirmationAnswered():
            return f"{event.by} answered {event.answer}"
        case ConfirmationGiven():
            return f"approved by {event.by}" + (" (auto)" if event.auto else "")
        case ConfirmationRefused():
            return f"{event.by} refused: {event.reason}"
        case PlanRevised():
            return f"revision by {event.by}: {_short(event.text)}"
        case RouteDecided():
            return f"{', '.join(event.projects) or 'no project'} ({event.method})"
        case ClarificationNeeded():
            return f"asks: {_short(event.question)}"
        case DirectAnswerGiven():
            return _short(event.text)
        case PlanProposed():
            phases = " | ".join(", ".join(event.plan.label_of(key) for key in phase) for phase in event.plan.phases)
            return f"{event.plan.label!r}: {phases}"
        case PlanApproved():
            return f"by {event.by}" + (" (auto)" if event.auto else "")
        case PhaseStarted():
            return f"phase {event.phase}: {', '.join(event.workspaces)}"
        case WorkspaceTaskDispatched():
            again = f", attempt {event.attempt}" if event.attempt > 1 else ""
            return f"{event.workspace} ({event.target}{again}): {_short(event.task, 60)}"
        case RequestResumed():
            ran = f"{event.finished} finished; rerun: {', '.join(event.rerun) or '-'}; interrupted: {', '.join(event.interrupted) or '-'}"
            return f"{event.stage}" + (f": {ran}" if event.stage == "execution" else ": again")
        case WorkspaceTaskStarted() if event.child_request_id:
            return f"{event.workspace}: child orchestrator's request {event.child_request_id} ({event.agent})"
        case WorkspaceProgress():
            return f"{event.workspace} {event.kind}: {_short(event.detail, 60)}"
        case PermissionRequested():
            return f"{event.workspace} asks: {event.tool} {_short(event.detail, 60)} ({_short(event.reason, 60)})"
        case PermissionAnswered():
            return f"{event.by} answered {'allow' if event.allowed else 'deny'}"
        case PermissionDecided():
            verdict = "allowed" if event.allowed else "REFUSED"
            return f"{event.workspace} {verdict} {event.tool} {_short(event.detail, 50)} [{event.rule or event.by}, by {event.by}]: {_short(event.reason, 60)}"
        case WorkspaceTaskSucceeded():
            return f"{event.workspace}: {_short(event.result.summary, 60)} (tests {event.result.test_result}, ${event.usage.cost_usd:.4f})"
        case WorkspaceTaskFailed():
            return f"{event.workspace}: {_short(event.error, 70)}"
        case WorkspaceTaskTimedOut():
            return f"{event.workspace} after {event.timeout_s:g} s"
        case WorkspaceTaskSkipped() if event.reason:
            return f"{event.workspace}: not run: {_short(event.reason, 70)}"
        case WorkspaceTaskSkipped():
            return f"{event.workspace}: {', '.join(event.because)} did not succeed"
        case PhaseCompleted():
            return f"phase {event.phase}: {len(event.succeeded)} ok, {len(event.failed)} failed, {len(event.skipped)} skipped"
        case RequestCompleted():
            counts = f"{event.succeeded} ok, {event.failed} failed, {event.skipped} skipped, ${event.usage.cost_usd:.4f}"
            return f"{counts}; {_short(event.stopped, 160)}" if event.stopped else counts
        case RequestFailed():
            return f"{event.stage}: {_short(event.reason)}"
        case ChangesProposed():
            repos = "; ".join(f"{r.repo}: {r.branch} {diffstat(TaskFacts(files=r.files))}" for r in event.repos)
            return repos + (f" (automatic: {event.automatic})" if event.automatic else "")
        case ChangesAnswered():
            return f"{event.by} asked {event.decision} {event.repo or '(every repository)'}"
        case ChangesDecided():
            return f"{event.repo}: {event.decision} by {event.by} (attempt {event.attempt + 1})"
        case ChangesMerged():
            return f"{event.repo}: {event.branch} into {event.into} at {event.commit[:12]}" + (" (fast-forward)" if event.fast_forward else "")
        case ChangesRefused():
            return f"{event.repo}: {event.decision} refused: {_short(event.reason, 80)}"
        case ChangesPushed():
            return f"{event.repo}: {event.branch} to {event.remote}" + (f", {event.pr_url}" if event.pr_url else f" ({_short(event.note, 60)})")
        case ChangesDiscarded():
            return f"{event.repo}: {len(event.branches)} branches deleted"
        case ChangesOverlapped():
            files = _short(", ".join(event.files), 60)
            return f"{event.repo}: before {event.decision} of {event.deciding_request}: {event.request_id} and {event.other_request} both change {files}"
        case _:
            fields = [f for f in event.__struct_fields__ if f not in ("id", "at", "session_key", "causation_id", "request_id")]
            shown = ((name, _value(getattr(event, name))) for name in fields)
            return " ".join(f"{name}={_short(value, 60)}" for name, value in shown if value is not None)


def _value(value: object) -> str | None:
    """A field's value as a person reads it (no Python reprs); None when there is nothing to show."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, Usage):
        return f"${value.cost_usd:.4f} ({value.input_tokens} in / {value.output_tokens} out tokens, {value.num_turns} turns)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(item) or "-" for item in value)
    if isinstance(value, msgspec.Struct):
        return msgspec.json.encode(value).decode()
    return str(value)


def line(seq: int, event: Event) -> str:
    """`#seq  HH:MM:SS.mmm  type  detail`."""
    return f"#{seq:<6} {event.at:%H:%M:%S}.{event.at.microsecond // 1000:03d}  {event.type:<24} {detail(event)}"


class Nesting:
    """`tunnels replay` of a request whose tasks were taken by child orchestrators: each child's
    timeline in brief nested under its task.

    The child's events stay in its own store (maybe behind a leaf node, on another network); what
    the parent's store holds of them is the lines the child reported as it ran (its route, plan,
    phases and tasks, its own children's indented: `remote_agent.delegated`), recorded here as
    the task's progress. So the nesting needs no access to the child's store, at any depth; the
    child's whole timeline is its own `tunnels replay` of the request named on `task.started`."""

    def __init__(self) -> None:
        self._children: set[str] = set()  # the ids of tasks a child orchestrator took

    def line(self, seq: int, event: Event) -> str:
        """The event's line: a child's reported line indented under its task, any other as `line()`."""
        if isinstance(event, WorkspaceTaskStarted) and event.child_request_id:
            self._children.add(event.task_id)
        if isinstance(event, WorkspaceProgress) and event.task_id in self._children:
            at = f"{event.at:%H:%M:%S}.{event.at.microsecond // 1000:03d}"
            return f"#{seq:<6} {at}    ↳ {event.workspace}: {event.detail.rstrip()}"
        return line(seq, event)
