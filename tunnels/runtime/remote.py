"""Remote workspaces: agents on other hosts or pods, reached only through NATS.

A workspace with a fresh presence in the `TUNNELS_AGENTS` bucket is remote: discovery lists it,
the planner reads its announced CLAUDE.md, and its tasks are queued for its agent instead of run
here. The agent's reports are checked (a report about another workspace's task is refused) and
recorded as the same events a local task produces. When a workspace's heartbeat stops for
`remote.lost_after_s`, its in-flight task fails as "agent lost" (dependants are then skipped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors.context import Recorder
from config.loader import LoadedSettings
from events.catalogue import AnyEvent
from events.execution import (
    PermissionDecided,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from events.ids import Clock, IdSource
from events.values import bounded_result
from projections import RequestsView
from remote_agent.protocol import (
    REPORTS,
    AnswerCommand,
    Asked,
    CancelCommand,
    Decided,
    Finished,
    Presence,
    Progressed,
    Started,
    TaskCommand,
    kv_key,
)
from tunnels.bus.errors import BusError
from tunnels.bus.workspaces import WorkspaceBus
from tunnels.claude.guard import PermissionNote, Question
from tunnels.runtime.envelopes import task_envelope
from tunnels.runtime.permission_desk import decision_event, question_event
from tunnels.runtime.permission_desk import permission_id as permission_id_of

log = logging.getLogger(__name__)


@dataclass
class InFlight:
    """A task handed to a remote agent and not settled yet."""

    dispatched: WorkspaceTaskDispatched
    since: float
    """When it was dispatched (monotonic seconds)."""
    agent_id: str = ""
    started: bool = False
    questions: dict[str, int] = field(default_factory=dict)
    """The agent's questions put to the conversation: permission id -> the agent's number for it."""


def silent_tasks(
    in_flight: Mapping[str, InFlight], presences: Mapping[str, tuple[Presence, float]], now: float, lost_after_s: float,
) -> list[str]:
    """The tasks whose agent is lost: no heartbeat seen for more than `lost_after_s` (counted from
    the dispatch when that is later, so a task is never lost on an old silence). The watchdog checks
    every min(1 s, lost_after_s / 4), so a task fails at most that long after this becomes true."""
    lost = []
    for task_id, flight in in_flight.items():
        seen = presences.get(flight.dispatched.workspace)
        last = max(seen[1], flight.since) if seen else flight.since
        if now - last > lost_after_s:
            lost.append(task_id)
    return lost


class RemoteWorkspaces:
    """The orchestrator's view of remote agents, and the tasks it has handed them."""

    def __init__(
        self, bus: WorkspaceBus, recorder: Recorder, requests: RequestsView, clock: Clock, ids: IdSource, *,
        lost_after_s: float, loaded: LoadedSettings | None = None,
    ) -> None:
        self.loaded = loaded
        self.bus = bus
        self.recorder = recorder
        self.requests = requests
        self.clock = clock
        self.ids = ids
        self.lost_after_s = lost_after_s
        self.presences: dict[str, tuple[Presence, float]] = {}
        self.in_flight: dict[str, InFlight] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        """Watch presences, answer reports, and watch heartbeats."""
        await self.bus.start(self._on_presence, self._on_report)
        self._watchdog = asyncio.ensure_future(self._watch_heartbeats())

    async def stop(self) -> None:
        """Stop watching (tasks in flight are settled by the next start's reconciliation)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.bus.stop()

    def _on_presence(self, key: str, presence: Presence | None) -> None:
        if presence is None:
            for workspace in [w for w in self.presences if kv_key(w) == key]:
                del self.presences[workspace]
            return
        first = presence.workspace not in self.presences
        # Staleness is measured on our own clock, from when we saw the heartbeat: hosts' clocks differ.
        self.presences[presence.workspace] = (presence, time.monotonic())
        if first:
            asyncio.ensure_future(self.bus.ensure_consumer(presence.workspace))
        asyncio.ensure_future(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_live(self, workspace: str, timeout: float = 30.0) -> None:
        """Return once `workspace` has a live agent (for callers that must not race the KV watch)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: workspace in self.live()), timeout)

    def live(self) -> dict[str, Presence]:
        """Workspaces whose agent's heartbeat is fresh."""
        now = time.monotonic()
        return {w: p for w, (p, seen) in self.presences.items() if now - seen <= self.lost_after_s and not p.draining}

    async def adopt(self) -> set[str]:
        """After a restart, take back the remote tasks still running: their agents carry on (a
        question they asked stays pending), and their reports keep being recorded. Call it before
        `start()` so no report of theirs is answered "unknown task". Returns the task ids adopted."""
        adopted: set[str] = set()
        for request in list(self.requests.requests.values()):
            if request.status != "executing":
                continue
            running = {t.task_id: t for t in request.tasks.values() if t.target == "remote" and t.status in ("dispatched", "running")}
            if not running:
                continue
            for stored in await self.bus.store.read(self.bus.subjects.request(request.request_id)):
                event = stored.event
                if isinstance(event, WorkspaceTaskDispatched) and event.task_id in running and event.task_id not in adopted:
                    task = running[event.task_id]
                    flight = InFlight(event, time.monotonic(), started=task.status == "running")
                    flight.questions = {q.permission_id: number for q in request.questions.values() if q.task_id == event.task_id
                                        and (number := _question_number(event, q.permission_id)) is not None}
                    self.in_flight[event.task_id] = flight
                    adopted.add(event.task_id)
        return adopted

    async def dispatch(self, dispatched: WorkspaceTaskDispatched, command: TaskCommand) -> None:
        """Queue the task for the workspace's agent."""
        self.in_flight[dispatched.task_id] = InFlight(dispatched, time.monotonic())
        await self.bus.send_task(dispatched.workspace, dispatched.task_id, command)

    async def cancel(self, request_id: str, by: str) -> list[str]:
        """Ask the agents running tasks of `request_id` to stop; return those task ids."""
        tasks = [t for t, f in self.in_flight.items() if f.dispatched.request_id == request_id]
        for task_id in tasks:
            await self.bus.send_control(self.in_flight[task_id].dispatched.workspace, CancelCommand(task_id=task_id, by=by))
        return tasks

    def _envelope(self, dispatched: WorkspaceTaskDispatched) -> dict[str, Any]:
        return task_envelope(dispatched, self.clock, self.ids)

    async def _on_report(self, workspace: str, data: bytes) -> bytes:
        try:
            report = REPORTS.decode(data)
        except msgspec.DecodeError as err:
            return f"error: not a report ({err})".encode()
        flight = self.in_flight.get(report.task_id)
        if flight is None:
            # Already settled (a retried report, or a task failed as lost): nothing more to record.
            return b"ok" if self._settled(report.task_id) else b"error: unknown task"
        if flight.dispatched.workspace != workspace:
            log.warning("refused a report for %s from the agent of %s", flight.dispatched.workspace, workspace)
            return b"error: that task belongs to another workspace"
        envelope = self._envelope(flight.dispatched)
        match report:
            case Started() if not flight.started:
                flight.started, flight.agent_id = True, report.agent_id
                await self.recorder.append(WorkspaceTaskStarted(**envelope, agent=report.agent_id))
            case Progressed() if flight.started:
                await self.recorder.append(WorkspaceProgress(**envelope, kind=report.kind, detail=report.detail[:300]))
            case Decided() if flight.started:
                # The host is not trusted: what it says is cut to size, and it can never speak for a person.
                note = PermissionNote(
                    report.tool[:100], report.detail[:300], report.allowed, report.reason[:500], report.rule[:100],
                    by="sandbox" if report.by == "sandbox" else "policy",
                )
                await self.recorder.append(decision_event(flight.dispatched, note, self.clock, self.ids))
            case Asked() if flight.started and self.loaded is not None and 0 < report.number <= _MAX_QUESTIONS:
                request = self.requests.get(flight.dispatched.request_id)
                question = Question(report.tool[:100], report.detail[:300], report.reason[:500], report.rule[:100])
                asked = question_event(
                    flight.dispatched, report.number, question, requester=request.requester if request else "",
                    settings=self.loaded, clock=self.clock, ids=self.ids,
                )
                flight.questions[asked.permission_id] = report.number
                await self.recorder.append(asked)
            case Finished():
                del self.in_flight[report.task_id]
                await self.recorder.append(_finished_event(report, envelope))
        return b"ok"

    def on_event(self, seq: int, event: AnyEvent) -> None:
        """Send the answer to a remote agent's question to that agent (a projection listener)."""
        if not isinstance(event, PermissionDecided) or not event.permission_id:
            return
        flight = self.in_flight.get(event.task_id)
        number = flight.questions.get(event.permission_id) if flight is not None else None
        if flight is None or number is None:
            return
        answer = AnswerCommand(task_id=event.task_id, answer_to=number, allowed=event.allowed, by=event.by, reason=event.reason)
        asyncio.ensure_future(self._send_answer(flight.dispatched.workspace, answer))

    async def _send_answer(self, workspace: str, answer: AnswerCommand) -> None:
        try:
            await self.bus.send_control(workspace, answer)
        except BusError as err:  # the agent refuses the action once its own deadline passes
            log.warning("could not send the answer to question %d of task %s: %s", answer.answer_to, answer.task_id, err)

    def _settled(self, task_id: str) -> bool:
        for request in self.requests.requests.values():
            for task in request.tasks.values():
                if task.task_id == task_id:
                    return task.status not in ("dispatched", "running")
        return False

    async def _watch_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.lost_after_s / 4))  # a periodic check, not a synchronisation
            for task_id in silent_tasks(self.in_flight, self.presences, time.monotonic(), self.lost_after_s):
                flight = self.in_flight.pop(task_id, None)
                if flight is None:
                    continue  # its report settled it while an earlier failure was being recorded
                seen = self.presences.get(flight.dispatched.workspace)
                agent = flight.agent_id or (seen[0].agent_id if seen else "its agent")
                await self.recorder.append(WorkspaceTaskFailed(
                    **self._envelope(flight.dispatched),
                    error=f"agent lost: no heartbeat from {agent} for {self.lost_after_s:g} s",
                ))


def _question_number(dispatched: WorkspaceTaskDispatched, permission_id: str) -> int | None:
    """Which of the task's questions `permission_id` is (ids are derived from the number)."""
    return next((n for n in range(1, _MAX_QUESTIONS + 1) if permission_id_of(dispatched, n) == permission_id), None)


_REASON_CHARS = 1000
_MAX_QUESTIONS = 1000
"""Questions one remote task may put to the conversation (a runaway agent cannot flood it)."""


def _finished_event(report: Finished, envelope: dict[str, Any]) -> Any:
    """The event a remote agent's final report stands for; what it says is cut to size."""
    error = report.error[:_REASON_CHARS] if report.error else None
    match report.outcome:
        case "succeeded" if report.result is not None:
            # A remote host is not trusted to keep within bounds: cut as a local result is.
            return WorkspaceTaskSucceeded(**envelope, result=bounded_result(report.result), usage=report.usage)
        case "timed_out":
            return WorkspaceTaskTimedOut(**envelope, timeout_s=report.timeout_s)
        case "cancelled":
            return WorkspaceTaskCancelled(**envelope, reason=error or "cancelled")
        case "interrupted":
            return WorkspaceTaskInterrupted(**envelope, reason=error or "the agent stopped")
        case _:
            return WorkspaceTaskFailed(**envelope, error=error or "the agent reported no result", usage=report.usage)
