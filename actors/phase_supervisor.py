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

After a restart (`Resume`, told by `actors.reconcile` before any event is delivered again) the
supervisor takes the request up from the stream: finished tasks stay finished, the tasks the
recovery rolled back run again (attempt 2), the ones it could not are reported interrupted, a
phase cut short while starting gets its remaining tasks, and the next phases run as usual. The
facts it records once (a phase's start and end, a dispatch per attempt, a skip, the request's
end) have derived ids (`actors.once`): recorded again, by a redelivery or a resumed supervisor,
they are stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.budget import is_spent, not_run_reason, stop_text
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.facts import facts_line
from claude_tunnels.actors.once import phase_id, request_end_id, task_id_of
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import CancelRequested
from claude_tunnels.events.execution import (
    PhaseCompleted,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestResumed,
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


@dataclass(frozen=True)
class Resume:
    """After a restart: take the request up where the stream says it is. Of the tasks this process
    was running, `rerun` ones were rolled back and run again; `interrupted` ones (task key ->
    why) are reported and not run again. Tasks still running elsewhere (adopted remote ones) are
    waited for; the next phases run as usual."""

    rerun: frozenset[str] = frozenset()
    """Task keys (`PlannedTask.key`), as every set of tasks here."""
    interrupted: Mapping[str, str] = field(default_factory=dict)

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
        self.outcomes: dict[str, str] = {}  # by task key (`PlannedTask.key`)
        self.active: set[str] = set()  # task keys
        self.cancelled_by: str | None = None
        self.finished = False
        self.budget_usd = ctx.settings.settings.limits.max_cost_usd_per_request
        self.spent_usd = 0.0
        self.not_run: dict[str, str] = {}  # task key -> why it never ran (the budget)
        self.opened_at = datetime.min.replace(tzinfo=UTC)  # the request's, once known: derived ids carry it

    def handle(self, event: AnyEvent, seq: int) -> None:
        request = self.ctx.requests.get(self.request_id)
        if request is None or self.finished:
            return
        if request.status != "executing":
            self.finished = True  # ended by another path (its one end is stored): nothing more runs
            return
        match event:
            case PlanApproved() if self.plan is None and request.plan is not None and request.phase == 0:
                self.plan, self.opened_at = request.plan, request.opened_at
                self.spent_usd = request.usage.cost_usd  # routing and planning, all folded before approval
                self._start_phase(event, request, 1)
            case CancelRequested() if self.plan is not None and self.cancelled_by is None:
                self._cancel(event, request)
            case _ if isinstance(event, _ENDED) and (key := self._key(event.task_id, event.workspace)) in self.active:
                self.active.discard(key)
                self.outcomes[key] = _OUTCOME[type(event)]
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
        self.plan, self.phase, self.opened_at = request.plan, request.phase, request.opened_at
        self.spent_usd = request.usage.cost_usd  # everything folded so far: routing, planning, ended tasks
        self.cancelled_by = request.cancel_requested_by or None  # a stop said before the restart holds
        order = request.plan.order()
        lost = [w for w in order if (w in message.rerun or w in message.interrupted) and request.tasks[w].status in TASK_ACTIVE]
        # A stop said before the restart: nothing runs again.
        rerun = [w for w in lost if w in message.rerun and self.cancelled_by is None]
        interrupted = [w for w in lost if w not in rerun]
        for key, task in request.tasks.items():
            if key in interrupted or key in rerun:
                continue
            if task.status in TASK_ACTIVE:
                self.active.add(key)
            elif task.status != "pending":
                self.outcomes[key] = task.status
        cause: Event | None = None
        if self.cancelled_by is None and len(self.outcomes) < len(order):
            # Told once per restart: what stays done, what runs again, what was lost.
            cause = RequestResumed(
                **self._envelope(None, request.session_key), stage="execution", finished=len(self.outcomes),
                rerun=rerun, interrupted=interrupted,
            )
            self.ctx.emit(cause)
        for key in interrupted:
            self.outcomes[key] = "interrupted"
            why = message.interrupted.get(key, "the orchestrator restarted while this task ran")
            self._emit(cause, WorkspaceTaskInterrupted, task_id=self._task_id(key), workspace=self._workspace(key), reason=why,
                       session_key=request.session_key)
        if self.cancelled_by is not None:
            self._cancel_rest(cause, request)
            return
        for key in rerun:
            task = request.tasks[key]
            self._dispatch(cause, request.session_key, key, task.phase, attempt=max(task.attempt, 1) + 1)
        if self.phase == 0:  # approved, and no phase started yet
            self._start_phase(cause, request, 1)
        else:  # the phase had started: what a crash kept from being dispatched, then on as usual
            self._start_phase(cause, request, self.phase, resuming=True)

    def _envelope(self, cause: Event | None, session_key: str, *, once: str = "") -> dict[str, Any]:
        """The envelope of an event of this request, caused by `cause` (None: by the restart);
        with `once`, its id is the derived one of that once-only fact (`actors.once`)."""
        if cause is not None:
            envelope = self.ctx.envelope(cause, request_id=self.request_id)
        else:
            envelope = {"id": self.ctx.ids.new_id(), "at": self.ctx.clock.now(), "session_key": session_key,
                        "causation_id": None, "request_id": self.request_id}
        if once:
            envelope["id"] = once
        return envelope

    def _emit(self, cause: Event | None, cls: type, *, once: str = "", session_key: str = "", **fields: object) -> None:
        session = cause.session_key if cause is not None else session_key
        self.ctx.emit(cls(**self._envelope(cause, session, once=once), **fields))

    def _start_phase(self, cause: Event | None, request: RequestState, number: int, *, resuming: bool = False) -> None:
        """Start phase `number`: its tasks run, or are skipped when a dependency did not succeed.
        `resuming`: the phase had started before a restart; only its tasks not dispatched yet."""
        assert self.plan is not None
        if not resuming and is_spent(self.spent_usd, self.budget_usd):
            self._stop_for_budget(cause, request, number)
            return
        self.phase = number
        runnable: list[str] = []
        skipped: dict[str, list[str]] = {}
        for key in self.plan.phases[number - 1]:  # task keys
            if key in self.outcomes or key in self.active:
                continue  # ended, or running (after a restart)
            failed = [dep for dep in self.plan.task_for(key).depends_on if self.outcomes.get(dep) != "succeeded"]
            if failed:
                skipped[key] = failed
            else:
                runnable.append(key)
        if not resuming:
            once = phase_id(self.request_id, self.opened_at, number, "started")
            self._emit(cause, PhaseStarted, once=once, session_key=request.session_key, phase=number,
                       workspaces=[self.plan.label_of(key) for key in runnable])
        for key, because in skipped.items():
            self.outcomes[key] = "skipped"
            task_id = self._task_id(key)
            self._emit(cause, WorkspaceTaskSkipped, once=task_id_of(self.request_id, self.opened_at, task_id, "skipped"),
                       session_key=request.session_key, task_id=task_id, workspace=self._workspace(key),
                       because=[self.plan.label_of(dep) for dep in because])
        for key in runnable:
            # A task dispatched before a restart that reset it (`request.resumed`) gets its next attempt.
            earlier = request.tasks[key].attempt if key in request.tasks else 0
            self._dispatch(cause, request.session_key, key, number, attempt=earlier + 1)
        if not self.active:
            self._advance(cause, request)

    def _dispatch(self, cause: Event | None, session_key: str, key: str, phase: int, *, attempt: int = 1) -> None:
        assert self.plan is not None
        task, task_id = self.plan.task_for(key), self._task_id(key)
        self.active.add(key)
        target = "remote" if task.workspace in self.ctx.tree.remote_workspaces() else "local"
        self._emit(
            cause, WorkspaceTaskDispatched, once=task_id_of(self.request_id, self.opened_at, task_id, f"dispatched:{attempt}"),
            session_key=session_key, task_id=task_id, workspace=task.workspace, phase=phase, task=task.task,
            upstream=list(task.depends_on), target=target, attempt=attempt,
        )

    def _task_id(self, key: str) -> str:
        """The `task_id` of the events of task `key`: `<request>-<n>` (`Plan.run_id`)."""
        assert self.plan is not None
        return self.plan.run_id(self.request_id, key)

    def _workspace(self, key: str) -> str:
        assert self.plan is not None
        return self.plan.task_for(key).workspace

    def _key(self, task_id: str, workspace: str) -> str:
        """The key of the task an event of this request names."""
        return self.plan.key_of(self.request_id, task_id, workspace) if self.plan is not None else workspace

    def _advance(self, cause: Event | None, request: RequestState) -> None:
        assert self.plan is not None
        if self.active:
            return
        if self.cancelled_by is not None:
            self._finish_cancelled(cause, request)
            return
        phase_keys = self.plan.phases[self.phase - 1]
        label = self.plan.label_of
        by = {status: [label(w) for w in phase_keys if self.outcomes.get(w) == status] for status in ("succeeded", "skipped")}
        failed = [label(w) for w in phase_keys if self.outcomes.get(w) not in ("succeeded", "skipped")]
        self._emit(cause, PhaseCompleted, once=phase_id(self.request_id, self.opened_at, self.phase, "completed"),
                   session_key=request.session_key, phase=self.phase, succeeded=by["succeeded"], failed=failed, skipped=by["skipped"])
        if self.phase < len(self.plan.phases):
            self._start_phase(cause, request, self.phase + 1)
            return
        self._complete(cause, request)

    def _stop_for_budget(self, cause: Event | None, request: RequestState, number: int) -> None:
        """Record every task of phase `number` and later as not run, and end the request."""
        assert self.plan is not None and self.budget_usd is not None
        reason = not_run_reason(self.budget_usd, self.spent_usd)
        not_run = [w for phase in self.plan.phases[number - 1:] for w in phase if w not in self.outcomes and w not in self.active]
        for key in not_run:
            self.outcomes[key] = "skipped"
            self.not_run[key] = reason
            task_id = self._task_id(key)
            self._emit(cause, WorkspaceTaskSkipped, once=task_id_of(self.request_id, self.opened_at, task_id, "skipped"),
                       session_key=request.session_key, task_id=task_id, workspace=self._workspace(key), because=[], reason=reason)
        stopped = stop_text(number, self.budget_usd, self.spent_usd, [self.plan.label_of(key) for key in not_run])
        self._complete(cause, request, stopped=stopped)

    def _complete(self, cause: Event | None, request: RequestState, stopped: str = "") -> None:
        self.finished = True
        self.ctx.emit(RequestCompleted(
            **self._envelope(cause, request.session_key, once=request_end_id(self.request_id, self.opened_at)),
            summary=self._summary(request),
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
        for key in self.plan.order():
            status = self.outcomes.get(key, "pending")
            task = latest.tasks.get(key)
            extras = []
            if status == "succeeded" and task is not None and task.result is not None:
                detail = task.result.summary
                if task.facts is not None:
                    extras.append(facts_line(task.facts, task.result))
            elif key in self.not_run:  # recorded just now: the view may not have it yet
                detail = f"not run: {self.not_run[key]}"
            elif task is not None and task.error:
                detail = task.error
            else:
                detail = status
            if task is not None and task.refused:
                extras.append(f"{task.refused} action{'s' if task.refused != 1 else ''} refused")
            if extras:
                detail += f" ({'; '.join(extras)})"
            lines.append(f"{marks.get(status, '✗')} {self.plan.label_of(key)}: {detail}")
        done = sum(1 for s in self.outcomes.values() if s == "succeeded")
        return f"{done} of {len(self.plan.tasks)} workspace tasks succeeded.\n" + "\n".join(lines)

    def _cancel(self, cancel: CancelRequested, request: RequestState) -> None:
        assert self.plan is not None
        self.cancelled_by = cancel.by
        self._cancel_rest(cancel, request)

    def _cancel_rest(self, cause: Event | None, request: RequestState) -> None:
        """Record the tasks that have not run as cancelled; stop the running ones, or end the request."""
        assert self.plan is not None
        for key in [w for phase in self.plan.phases[max(self.phase, 1) - 1:] for w in phase]:
            if key not in self.outcomes and key not in self.active:
                self.outcomes[key] = "cancelled"
                task_id = self._task_id(key)
                self._emit(cause, WorkspaceTaskCancelled, once=task_id_of(self.request_id, self.opened_at, task_id, "cancelled"),
                           session_key=request.session_key, task_id=task_id, workspace=self._workspace(key), reason="cancelled before it ran")
        if self.active:
            self.ctx.start(self.ctx.tasks.cancel_request(self.request_id, self.cancelled_by or ""), name=f"cancel {self.request_id}")
        else:
            self._finish_cancelled(cause, request)

    def _finish_cancelled(self, cause: Event | None, request: RequestState) -> None:
        self.finished = True
        self.ctx.emit(RequestCancelled(
            **self._envelope(cause, request.session_key, once=request_end_id(self.request_id, self.opened_at)),
            by=self.cancelled_by or "", usage=self._usage(request),
        ))
