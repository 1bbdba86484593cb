"""One task's reports become events here, and only here, whichever runner ran it.

A local Claude Code session, a remote agent's reports, a lost agent: all of them tell a
`TaskRecorder` (the `TaskHandle` of `actors.ports`) that the task started, made progress, was
refused something, asked a question, or ended. It records the matching events in the order it was
told (each append waits for the one before), throttles progress, and records the end exactly once,
after everything told before it.

Questions: a relayed action becomes `permission.requested` (its id derived from the task and the
question's number, so asking again after a restart is the same question); the `PermissionGate`
records its one decision, which `QuestionDesk` hears from the stream and hands back here.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.confirm_policy import approvers_for
from claude_tunnels.actors.envelopes import task_envelope
from claude_tunnels.actors.ports import (
    Answer,
    Appender,
    Cancelled,
    Failed,
    Interrupted,
    Monotonic,
    PermissionNote,
    Progress,
    Question,
    Succeeded,
    TaskEnd,
    TimedOut,
)
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.ids import Clock, IdSource, derived_id
from claude_tunnels.events.values import bounded_result
from claude_tunnels.projections import RequestsView

DETAIL_CHARS = 300
REASON_CHARS = 1000


def permission_id(dispatched: WorkspaceTaskDispatched, number: int) -> str:
    """The id of a task's `number`-th question (the same however often it is recorded; a task run
    again after a restart asks new ones)."""
    again = f":{dispatched.attempt}" if dispatched.attempt > 1 else ""
    return derived_id(dispatched.at, f"{dispatched.task_id}{again}:question:{number}")


def end_event(end: TaskEnd, envelope: dict[str, Any]) -> Event:
    """The event a task's end stands for; what a runner says is cut to size (a remote host is
    not trusted to keep within bounds)."""
    match end:
        case Succeeded():
            return WorkspaceTaskSucceeded(**envelope, result=bounded_result(end.result), usage=end.usage, facts=end.facts)
        case Failed():
            return WorkspaceTaskFailed(**envelope, error=end.error[:REASON_CHARS] or "the agent reported no result", usage=end.usage)
        case TimedOut():
            return WorkspaceTaskTimedOut(**envelope, timeout_s=end.timeout_s)
        case Cancelled():
            return WorkspaceTaskCancelled(**envelope, reason=end.reason[:REASON_CHARS] or "cancelled")
        case Interrupted():
            return WorkspaceTaskInterrupted(**envelope, reason=end.reason[:REASON_CHARS] or "the agent stopped")


class QuestionDesk:
    """Where answers to questions are waited for: a projection listener resolves them."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[PermissionDecided]] = {}

    def on_event(self, seq: int, event: AnyEvent) -> None:
        """Hand a decision to whoever waits for it (called on the loop for each folded event)."""
        if isinstance(event, PermissionDecided) and (future := self._waiting.get(event.permission_id)) is not None:
            if not future.done():
                future.set_result(event)

    def expect(self, permission_id: str) -> asyncio.Future[PermissionDecided]:
        """A future for the decision of `permission_id` (register before asking: no answer is missed)."""
        future = self._waiting.get(permission_id)
        if future is None or future.done():
            future = self._waiting[permission_id] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, permission_id: str) -> None:
        """Stop waiting for `permission_id`."""
        self._waiting.pop(permission_id, None)


class TaskRecorder:
    """The `TaskHandle` of one dispatched task; `on_end` is told once the end is recorded."""

    def __init__(
        self, dispatched: WorkspaceTaskDispatched, *, log: Appender, requests: RequestsView, desk: QuestionDesk,
        settings: LoadedSettings, clock: Clock, ids: IdSource, monotonic: Monotonic,
        on_end: Callable[[TaskRecorder], None] | None = None, background: Background | None = None,
    ) -> None:
        self.dispatched = dispatched
        self._log = log
        self._requests = requests
        self._desk = desk
        self._settings = settings
        self._clock = clock
        self._ids = ids
        self._monotonic = monotonic
        self._on_end = on_end
        self._background = background if background is not None else Background("task recorder")
        self._numbers = itertools.count(1)
        self._last: asyncio.Future[Any] | None = None
        self._last_progress = float("-inf")
        self._interval = settings.settings.limits.progress_interval_s
        self.ended = False

    @property
    def task_id(self) -> str:
        """The task's id."""
        return self.dispatched.task_id

    def _envelope(self) -> dict[str, Any]:
        return task_envelope(self.dispatched, self._clock, self._ids)

    def _record(self, event: Event) -> None:
        # In order of the calls: each append waits for the one before. Drained: a fact being
        # recorded is let finish when the orchestrator stops; a failed append surfaces there.
        self._last = self._background.start(self._append_after(self._last, event), name=f"record {event.type}", drain=True)

    async def _append_after(self, previous: asyncio.Future[Any] | None, event: Event) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self._log.append(event)

    def started(self, agent: str, child_request_id: str = "") -> None:
        """The task's agent started its session (a child orchestrator: opened its request)."""
        self._record(WorkspaceTaskStarted(**self._envelope(), agent=agent, child_request_id=child_request_id[:100]))

    async def recorded(self) -> None:
        """Wait until everything reported so far is stored (a failure to store is raised)."""
        if self._last is not None:
            await asyncio.shield(self._last)

    def progress(self, progress: Progress) -> None:
        """What the agent is doing: recorded at most once per `limits.progress_interval_s`."""
        now = self._monotonic()
        if now - self._last_progress < self._interval and not progress.every:
            return
        self._last_progress = now
        kind: Literal["tool", "text"] = "tool" if progress.kind == "tool" else "text"
        self._record(WorkspaceProgress(**self._envelope(), kind=kind, detail=progress.detail[:DETAIL_CHARS]))

    def decided(self, note: PermissionNote) -> None:
        """A decision of the agent's policy or sandbox (a runner never speaks for a person)."""
        by = "sandbox" if note.by == "sandbox" else "policy"
        self._record(PermissionDecided(
            **self._envelope(), tool=note.tool[:100], allowed=note.allowed, reason=note.reason[:500], by=by,
            detail=note.detail[:DETAIL_CHARS], rule=note.rule[:100],
        ))

    async def ask(self, question: Question, number: int | None = None) -> Answer:
        """Put `question` to the conversation and wait for the gate's decision."""
        number = number if number is not None else next(self._numbers)
        pid = permission_id(self.dispatched, number)
        future = self._desk.expect(pid)
        try:
            request = self._requests.get(self.dispatched.request_id)
            known = request.questions.get(pid) if request is not None else None
            if known is not None and known.decided:  # answered already (asked again after a restart)
                return Answer(allowed=known.allowed, by=known.by, reason=f"{'allowed' if known.allowed else 'denied'} by {known.by}")
            relay = self._settings.settings.permissions.relay
            envelope = self._envelope()
            self._record(PermissionRequested(
                **{**envelope, "id": pid}, tool=question.tool[:100], detail=question.detail[:DETAIL_CHARS],
                permission_id=pid, reason=question.reason[:500], rule=question.rule[:100],
                expires_at=envelope["at"] + timedelta(seconds=relay.timeout_s),
                approvers=approvers_for(request.requester if request else "", self._settings.settings.approvers),
            ))
            decided = await future
        finally:
            self._desk.forget(pid)
        return Answer(allowed=decided.allowed, by=decided.by, reason=decided.reason)

    async def finish(self, end: TaskEnd) -> None:
        """Record how the task ended, after everything reported before; later calls change nothing."""
        if self.ended:
            return
        self.ended = True
        if self._last is not None:
            await asyncio.gather(self._last, return_exceptions=True)
        await self._log.append(end_event(end, self._envelope()))
        if self._on_end is not None:
            self._on_end(self)
