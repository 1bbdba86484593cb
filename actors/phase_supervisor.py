"""The phase supervisor (one per request): phases in order, tasks of a phase in parallel.

A task whose dependencies did not all succeed is skipped and reported; independent tasks go on.
Cancel stops the running agents and records it. The supervisor keeps the outcome of each task
it has seen, so its decisions never wait on a projection catching up with its own writes.

Cost budget (`limits.max_cost_usd_per_request`): the supervisor keeps the request's running cost
itself, starting from routing and planning (known when the plan is approved) and adding the
usage on each task's end as it sees it. When that total has reached the budget before a phase
would start, no further phase starts: every task of that phase and the later ones is recorded
as skipped with the reason, and the request completes with `stopped` saying so. The check is
made between phases only: tasks already running in a phase are let finish (stopping them would
waste what they cost), so a request can end past its budget; a task's own budget
(`limits.max_cost_usd_per_task`) bounds that. A timed-out task adds nothing (its cost is unknown).
"""

from __future__ import annotations

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.budget import is_spent, not_run_reason, stop_text
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.facts import facts_line
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import CancelRequested
from claude_tunnels.events.execution import (
    PhaseCompleted,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import PlanApproved
from claude_tunnels.events.values import Plan, Usage
from claude_tunnels.projections.requests import TASK_ACTIVE, RequestState


class Resume:
    """After a restart: take the request up where the stream says it is (tasks still running
    elsewhere are waited for, the next phases run as usual)."""

_ENDED = (WorkspaceTaskSucceeded, WorkspaceTaskFailed, WorkspaceTaskTimedOut, WorkspaceTaskCancelled, WorkspaceTaskInterrupted)
_OUTCOME = {
    WorkspaceTaskSucceeded: "succeeded", WorkspaceTaskFailed: "failed", WorkspaceTaskTimedOut: "timed_out",
    WorkspaceTaskCancelled: "cancelled", WorkspaceTaskInterrupted: "interrupted",
}


class PhaseSupervisor(EventActor):
    """Runs one approved plan."""

    def __init__(self, ctx: ActorContext, request_id: str) -> None:
        super().__init__(ctx)
        self.request_id = request_id
        self.plan: Plan | None = None
        self.phase = 0
        self.outcomes: dict[str, str] = {}
        self.active: set[str] = set()
        self.cancelled_by: str | None = None
        self.finished = False
        self.budget_usd = ctx.settings.settings.limits.max_cost_usd_per_request
        self.spent_usd = 0.0
        self.not_run: dict[str, str] = {}  # workspace -> why it never ran (the budget)

    def handle(self, event: AnyEvent, seq: int) -> None:
        request = self.ctx.requests.get(self.request_id)
        if request is None or self.finished:
            return
        match event:
            case PlanApproved() if self.plan is None and request.plan is not None and request.phase == 0:
                self.plan = request.plan
                self.spent_usd = request.usage.cost_usd  # routing and planning, all folded before approval
                self._start_phase(event, request, 1)
            case CancelRequested() if self.plan is not None and self.cancelled_by is None:
                self._cancel(event, request)
            case _ if isinstance(event, _ENDED) and event.workspace in self.active:
                self.active.discard(event.workspace)
                self.outcomes[event.workspace] = _OUTCOME[type(event)]
                usage: Usage | None = getattr(event, "usage", None)
                self.spent_usd = round(self.spent_usd + (usage.cost_usd if usage else 0.0), 6)
                self._advance(event, request)

    def on_message(self, message: object) -> None:
        if not isinstance(message, Resume):
            super().on_message(message)
            return
        request = self.ctx.requests.get(self.request_id)
        if request is None or request.plan is None or request.status != "executing" or self.plan is not None:
            return
        self.plan, self.phase = request.plan, max(request.phase, 1)
        self.spent_usd = request.usage.cost_usd  # everything folded so far: routing, planning, ended tasks
        self.cancelled_by = request.cancel_requested_by or None  # a stop said before the restart holds
        for workspace, task in request.tasks.items():
            if task.status in TASK_ACTIVE:
                self.active.add(workspace)
            elif task.status != "pending":
                self.outcomes[workspace] = task.status

    def _emit(self, cause: AnyEvent, cls: type, **fields: object) -> None:
        self.ctx.emit(cls(**self.ctx.envelope(cause, request_id=self.request_id), **fields))

    def _start_phase(self, cause: AnyEvent, request: RequestState, number: int) -> None:
        assert self.plan is not None
        if is_spent(self.spent_usd, self.budget_usd):
            self._stop_for_budget(cause, request, number)
            return
        self.phase = number
        runnable: list[str] = []
        skipped: dict[str, list[str]] = {}
        for workspace in self.plan.phases[number - 1]:
            failed = [dep for dep in self.plan.task_for(workspace).depends_on if self.outcomes.get(dep) != "succeeded"]
            if failed:
                skipped[workspace] = failed
            else:
                runnable.append(workspace)
        self._emit(cause, PhaseStarted, phase=number, workspaces=runnable)
        for workspace, because in skipped.items():
            self.outcomes[workspace] = "skipped"
            self._emit(cause, WorkspaceTaskSkipped, task_id=self._task_id(workspace), workspace=workspace, because=because)
        remote = self.ctx.tree.remote_workspaces()
        for workspace in runnable:
            task = self.plan.task_for(workspace)
            self.active.add(workspace)
            self._emit(
                cause, WorkspaceTaskDispatched, task_id=self._task_id(workspace), workspace=workspace, phase=number,
                task=task.task, upstream=list(task.depends_on), target="remote" if workspace in remote else "local",
            )
        if not runnable:
            self._advance(cause, request)

    def _task_id(self, workspace: str) -> str:
        assert self.plan is not None
        index = [task.workspace for task in self.plan.tasks].index(workspace)
        return f"{self.request_id}-{index + 1}"

    def _advance(self, cause: AnyEvent, request: RequestState) -> None:
        assert self.plan is not None
        if self.active:
            return
        if self.cancelled_by is not None:
            self._finish_cancelled(cause, request)
            return
        phase_workspaces = self.plan.phases[self.phase - 1]
        by = {status: [w for w in phase_workspaces if self.outcomes.get(w) == status] for status in ("succeeded", "skipped")}
        failed = [w for w in phase_workspaces if self.outcomes.get(w) not in ("succeeded", "skipped")]
        self._emit(cause, PhaseCompleted, phase=self.phase, succeeded=by["succeeded"], failed=failed, skipped=by["skipped"])
        if self.phase < len(self.plan.phases):
            self._start_phase(cause, request, self.phase + 1)
            return
        self._complete(cause, request)

    def _stop_for_budget(self, cause: AnyEvent, request: RequestState, number: int) -> None:
        """Record every task of phase `number` and later as not run, and end the request."""
        assert self.plan is not None and self.budget_usd is not None
        reason = not_run_reason(self.budget_usd, self.spent_usd)
        not_run = [workspace for phase in self.plan.phases[number - 1:] for workspace in phase]
        for workspace in not_run:
            self.outcomes[workspace] = "skipped"
            self.not_run[workspace] = reason
            self._emit(cause, WorkspaceTaskSkipped, task_id=self._task_id(workspace), workspace=workspace, because=[], reason=reason)
        self._complete(cause, request, stopped=stop_text(number, self.budget_usd, self.spent_usd, not_run))

    def _complete(self, cause: AnyEvent, request: RequestState, stopped: str = "") -> None:
        self.finished = True
        self.ctx.emit(RequestCompleted(
            **self.ctx.envelope(cause, request_id=self.request_id), summary=self._summary(request),
            succeeded=sum(1 for s in self.outcomes.values() if s == "succeeded"),
            failed=sum(1 for s in self.outcomes.values() if s not in ("succeeded", "skipped")),
            skipped=sum(1 for s in self.outcomes.values() if s == "skipped"),
            usage=self._usage(request), stopped=stopped,
        ))

    def _usage(self, request: RequestState) -> Usage:
        # The triggering event is folded (the dispatcher waits), so the request's total is current.
        latest = self.ctx.requests.get(self.request_id) or request
        return latest.usage

    def _summary(self, request: RequestState) -> str:
        assert self.plan is not None
        latest = self.ctx.requests.get(self.request_id) or request
        marks = {"succeeded": "✓", "skipped": "–"}
        lines = []
        for workspace in [w for phase in self.plan.phases for w in phase]:
            status = self.outcomes.get(workspace, "pending")
            task = latest.tasks.get(workspace)
            extras = []
            if status == "succeeded" and task is not None and task.result is not None:
                detail = task.result.summary
                if task.facts is not None:
                    extras.append(facts_line(task.facts, task.result))
            elif workspace in self.not_run:  # recorded just now: the view may not have it yet
                detail = f"not run: {self.not_run[workspace]}"
            elif task is not None and task.error:
                detail = task.error
            else:
                detail = status
            if task is not None and task.refused:
                extras.append(f"{task.refused} action{'s' if task.refused != 1 else ''} refused")
            if extras:
                detail += f" ({'; '.join(extras)})"
            lines.append(f"{marks.get(status, '✗')} {workspace}: {detail}")
        done = sum(1 for s in self.outcomes.values() if s == "succeeded")
        return f"{done} of {len(self.plan.tasks)} workspace tasks succeeded.\n" + "\n".join(lines)

    def _cancel(self, cancel: CancelRequested, request: RequestState) -> None:
        assert self.plan is not None
        self.cancelled_by = cancel.by
        for workspace in [w for phase in self.plan.phases[self.phase:] for w in phase]:
            if workspace not in self.outcomes:
                self.outcomes[workspace] = "cancelled"
                self._emit(cancel, WorkspaceTaskCancelled, task_id=self._task_id(workspace), workspace=workspace, reason="cancelled before it ran")
        if self.active:
            self.ctx.start(self.ctx.tasks.cancel_request(self.request_id, cancel.by), name=f"cancel {self.request_id}")
        else:
            self._finish_cancelled(cancel, request)

    def _finish_cancelled(self, cause: AnyEvent, request: RequestState) -> None:
        self.finished = True
        self.ctx.emit(RequestCancelled(**self.ctx.envelope(cause, request_id=self.request_id), by=self.cancelled_by or "", usage=self._usage(request)))
