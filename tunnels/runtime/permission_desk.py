"""The asyncio side of permissions for tasks run here: decisions recorded, questions put and awaited.

An agent's permission decisions become `permission.decided` events (recorded in the background,
drained before the task's end is recorded, like progress). A relayed action becomes a
`permission.requested` event; the `PermissionGate` actor records its single decision, which the
desk hears from the stream (`on_event`) and hands back to the waiting agent.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

from actors.confirm_policy import approvers_for
from actors.context import Recorder
from config.loader import LoadedSettings
from events.catalogue import AnyEvent
from events.execution import PermissionDecided, PermissionRequested, WorkspaceTaskDispatched
from events.ids import Clock, IdSource, derived_id
from projections import RequestsView
from tunnels.claude.guard import Answer, PermissionNote, Question
from tunnels.runtime.envelopes import task_envelope


def permission_id(dispatched: WorkspaceTaskDispatched, number: int) -> str:
    """The id of a task's `number`-th question (the same however often it is recorded)."""
    return derived_id(dispatched.at, f"{dispatched.task_id}:question:{number}")


def question_event(
    dispatched: WorkspaceTaskDispatched, number: int, question: Question, *, requester: str, settings: LoadedSettings,
    clock: Clock, ids: IdSource,
) -> PermissionRequested:
    """The `permission.requested` event for a task's `number`-th question."""
    envelope = task_envelope(dispatched, clock, ids)
    relay = settings.settings.permissions.relay
    return PermissionRequested(
        **{**envelope, "id": permission_id(dispatched, number)}, tool=question.tool, detail=question.detail,
        permission_id=permission_id(dispatched, number), reason=question.reason, rule=question.rule,
        expires_at=envelope["at"] + timedelta(seconds=relay.timeout_s),
        approvers=approvers_for(requester, settings.settings.approvers),
    )


def decision_event(dispatched: WorkspaceTaskDispatched, note: PermissionNote, clock: Clock, ids: IdSource) -> PermissionDecided:
    """A `permission.decided` event for a decision the agent's own policy (or sandbox) made."""
    return PermissionDecided(
        **task_envelope(dispatched, clock, ids), tool=note.tool, allowed=note.allowed, reason=note.reason[:500],
        by=note.by, detail=note.detail, rule=note.rule,
    )


class PermissionDesk:
    """Records the permission decisions of local tasks and waits for the answers to their questions."""

    def __init__(self, loaded: LoadedSettings, recorder: Recorder, requests: RequestsView, clock: Clock, ids: IdSource) -> None:
        self.loaded = loaded
        self.recorder = recorder
        self.requests = requests
        self.clock = clock
        self.ids = ids
        self._waiting: dict[str, asyncio.Future[PermissionDecided]] = {}

    def on_event(self, seq: int, event: AnyEvent) -> None:
        """Hand a decision to the agent waiting for it (a projection listener, on the loop)."""
        if isinstance(event, PermissionDecided) and (future := self._waiting.get(event.permission_id)) is not None:
            if not future.done():
                future.set_result(event)

    def for_task(self, dispatched: WorkspaceTaskDispatched) -> TaskPermissions:
        """The callbacks one task's agent session uses."""
        return TaskPermissions(self, dispatched)


class TaskPermissions:
    """One task's `on_decision` and `ask` (see `tunnels.claude.run_agent`)."""

    def __init__(self, desk: PermissionDesk, dispatched: WorkspaceTaskDispatched) -> None:
        self.desk = desk
        self.dispatched = dispatched
        self._numbers = itertools.count(1)
        self._last: asyncio.Task[Any] | None = None

    def on_decision(self, note: PermissionNote) -> None:
        """Record a decision of the agent's policy or sandbox (in the background, in order of calls)."""
        event = decision_event(self.dispatched, note, self.desk.clock, self.desk.ids)
        self._last = asyncio.ensure_future(self._append_after(self._last, event))

    async def _append_after(self, previous: asyncio.Task[Any] | None, event: PermissionDecided) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self.desk.recorder.append(event)

    async def ask(self, question: Question) -> Answer:
        """Put `question` to the conversation and wait for the gate's decision."""
        desk = self.desk
        request = desk.requests.get(self.dispatched.request_id)
        asked = question_event(
            self.dispatched, next(self._numbers), question, requester=request.requester if request else "",
            settings=desk.loaded, clock=desk.clock, ids=desk.ids,
        )
        future: asyncio.Future[PermissionDecided] = asyncio.get_running_loop().create_future()
        desk._waiting[asked.permission_id] = future
        try:
            await desk.recorder.append(asked)
            decided = await future
        finally:
            desk._waiting.pop(asked.permission_id, None)
        return Answer(allowed=decided.allowed, by=decided.by, reason=decided.reason)

    async def drain(self) -> None:
        """Wait until the decisions already handed over are recorded (before the task's end)."""
        if self._last is not None:
            await asyncio.gather(self._last, return_exceptions=True)
