"""Remote workspaces: agents on other hosts or pods, reached only through NATS (a `TaskExecutor`).

A workspace with a fresh presence in the `TUNNELS_AGENTS` bucket is remote: discovery lists it,
the planner reads its announced CLAUDE.md, and its tasks are queued for its agent instead of run
here, with their prompt ready-made. The agent's reports are checked (a report about another
workspace's task is refused) and told to the task's handle, which records the same events a local
task produces. When a workspace's heartbeat stops for `remote.lost_after_s`, its in-flight task
fails as "agent lost" (dependants are then skipped). Silence is measured on the injected monotonic
source and the watchdog that checks it runs on the injected timers, so a test on a manual clock
loses an agent without waiting. After a restart, the tasks still in flight are adopted again
(`adopt`): their agents carry on, and their pending questions too. A workspace whose agent went
away (its heartbeat stopped, or it left) is named as offline, with when it was last seen
(`offline`), rather than as unknown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.ports import (
    Answer,
    Cancellable,
    Cancelled,
    Failed,
    Interrupted,
    Monotonic,
    PermissionNote,
    Progress,
    Question,
    Succeeded,
    TaskEnd,
    TaskHandle,
    TaskOrder,
    TimedOut,
    Timers,
)
from claude_tunnels.actors.task_recorder import permission_id
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.execution import WorkspaceTaskDispatched
from claude_tunnels.events.ids import Clock, SystemClock
from claude_tunnels.events.values import PATH_CHARS, FileDiff, TaskFacts, TaskResult, TestRun, bounded_result
from claude_tunnels.projections import RequestsView
from claude_tunnels.remote_agent.protocol import (
    REPORTS,
    AnswerCommand,
    Asked,
    BashPolicy,
    CancelCommand,
    Decided,
    Finished,
    Presence,
    Progressed,
    Started,
    TaskCommand,
    UpstreamResult,
    kv_key,
)
from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.bus.workspaces import WorkspaceBus
from claude_tunnels.tunnels.git.claims import MAX_FILES, mismatches
from claude_tunnels.tunnels.sandboxed import TAIL_CHARS

log = logging.getLogger(__name__)

_MAX_QUESTIONS = 1000
"""Questions one remote task may put to the conversation (a runaway agent cannot flood it)."""


REMEMBER_ENDED = 2000
"""Remote tasks remembered as ended, for the agents' retried reports (a bounded memory)."""


@dataclass
class InFlight:
    """A task handed to a remote agent and not settled yet."""

    dispatched: WorkspaceTaskDispatched
    handle: TaskHandle
    since: float
    """When it was dispatched (seconds of the orchestrator's `Monotonic`)."""
    agent_id: str = ""
    started: bool = False
    relays: set[asyncio.Future[None]] = field(default_factory=set)
    """Questions of the agent waiting for their answer, to be sent on its control subject."""
    child_lines: int = -1
    """A child orchestrator's task (it named its request): how many of its lines were recorded
    unthrottled so far (-1: an agent's task, throttled)."""


MAX_CHILD_LINES = 400
"""How many of a child orchestrator's progress lines one task records unthrottled (then as an agent's)."""


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


def host_facts(facts: TaskFacts | None, result: TaskResult) -> TaskFacts | None:
    """What a remote agent's own code found on its host (the files its task changed in place, the
    declared test's run), cut to size: the host is not trusted to keep within bounds, and it has no
    branch the orchestrator could merge, so git fields are dropped. The mismatches with the claims
    are worked out here."""
    if facts is None:
        return None
    files = [FileDiff(path=f.path[:PATH_CHARS]) for f in facts.files[:MAX_FILES]]
    test = facts.test
    if test is not None:
        test = TestRun(command=test.command[:500], passed=test.passed, exit_code=test.exit_code, tail=test.tail[-TAIL_CHARS:])
    return TaskFacts(files=files, test=test, mismatches=mismatches(result, files, test))


def finished_end(report: Finished) -> TaskEnd:
    """How a remote agent's final report says its task ended."""
    match report.outcome:
        case "succeeded" if report.result is not None:
            return Succeeded(report.result, report.usage, host_facts(report.facts, bounded_result(report.result)))
        case "timed_out":
            return TimedOut(report.timeout_s)
        case "cancelled":
            return Cancelled(report.error or "cancelled")
        case "interrupted":
            return Interrupted(report.error or "the agent stopped")
        case _:
            return Failed(report.error or "the agent reported no result", usage=report.usage)


class RemoteWorkspaces:
    """The orchestrator's view of remote agents, and the tasks it has handed them."""

    def __init__(
        self, bus: WorkspaceBus, requests: RequestsView, loaded: LoadedSettings, *, lost_after_s: float,
        timers: Timers, monotonic: Monotonic, background: Background | None = None, clock: Clock | None = None,
    ) -> None:
        self.loaded = loaded
        self.background = background if background is not None else Background("remote workspaces")
        """Where the watchdog, the consumers' set-up and the question relays run (the orchestrator's task group)."""
        self.bus = bus
        self.requests = requests
        self.lost_after_s = lost_after_s
        self.presences: dict[str, tuple[Presence, float]] = {}
        """Each workspace's last presence, and when it was seen (on `monotonic`)."""
        self.clock = clock or SystemClock()
        self.last_seen: dict[str, tuple[datetime, bool]] = {}
        """Each workspace ever seen in this run: when its last presence came (on `clock`), and
        whether it was draining; kept after the agent left, to say so."""
        self.in_flight: dict[str, InFlight] = {}
        self._ended: dict[str, None] = {}
        """The tasks ended here lately, oldest first (at most `REMEMBER_ENDED`): a retried report of
        one is answered "ok" though its request may have left memory."""
        self._timers = timers
        self._monotonic = monotonic
        self._watchdog: Cancellable | None = None
        self._losing: set[asyncio.Future[None]] = set()
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        """Watch presences, answer reports, and watch heartbeats."""
        await self.bus.start(self._on_presence, self._on_report)
        self._arm_watchdog()

    async def stop(self) -> None:
        """Stop watching (tasks in flight are adopted again by the next start)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for losing in self._losing:
            losing.cancel()
        for flight in self.in_flight.values():
            for relay in flight.relays:
                relay.cancel()
        await self.bus.stop()

    async def bus_returned(self) -> None:
        """The event bus came back after an outage: no agent could heartbeat meanwhile, so their
        silence counts from now; and the presences are watched anew."""
        now = self._monotonic()
        self.presences = {w: (presence, now) for w, (presence, _) in self.presences.items()}
        await self.bus.rewatch()

    # -- presence -------------------------------------------------------------------------------

    def _on_presence(self, key: str, presence: Presence | None) -> None:
        if presence is None:
            for workspace in [w for w in self.presences if kv_key(w) == key]:
                del self.presences[workspace]
            return
        first = presence.workspace not in self.presences
        # Staleness is measured on our own clock, from when we saw the heartbeat: hosts' clocks differ.
        self.presences[presence.workspace] = (presence, self._monotonic())
        self.last_seen[presence.workspace] = (self.clock.now(), presence.draining)
        if first:
            self.background.start(self._ensure_consumer(presence.workspace), name=f"consumer of {presence.workspace}")
        self.background.start(self._notify(), name="presence changed")

    async def _ensure_consumer(self, workspace: str) -> None:
        try:
            await self.bus.ensure_consumer(workspace)
        except BusError as err:  # only early: queuing each task makes sure of it again (`send_task`)
            log.warning("could not set up the task consumer of %s yet: %s", workspace, err)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_live(self, workspace: str, timeout: float = 30.0) -> None:
        """Return once `workspace` has a live agent (for callers that must not race the KV watch)."""
        await self.wait_seen(lambda: workspace in self.live(), timeout)

    async def wait_seen(self, ready: Callable[[], bool], timeout: float = 30.0) -> None:
        """Return once `ready()` holds, checked again at each presence seen (for callers that must
        know a heartbeat reached the orchestrator: a test that moves its clock after an agent's last one)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), timeout)

    def live(self) -> dict[str, Presence]:
        """Workspaces whose agent's heartbeat is fresh."""
        now = self._monotonic()
        return {w: p for w, (p, seen) in self.presences.items() if now - seen <= self.lost_after_s and not p.draining}

    def offline(self, workspace: str) -> str | None:
        """Why `workspace`, served by a remote agent earlier in this run, cannot take a task now:
        `web-app/edge is served by a remote agent that is offline (last seen 12:03 UTC, 5 min
        ago)`; None when its agent is live or was never seen."""
        if workspace not in self.last_seen or workspace in self.live():
            return None
        at, draining = self.last_seen[workspace]
        state = "shutting down" if draining else "offline"
        return f"{workspace} is served by a remote agent that is {state} (last seen {at:%H:%M} UTC, {_ago(self.clock.now() - at)})"

    # -- tasks ----------------------------------------------------------------------------------

    def command_for(self, order: TaskOrder) -> TaskCommand:
        """The task command of `order`: its ready prompt, and the limits and permissions of the settings."""
        dispatched, settings = order.dispatched, self.loaded.settings
        request = self.requests.get(dispatched.request_id)
        limits, permissions = settings.limits, settings.permissions
        bash = permissions.bash
        upstream = [
            UpstreamResult(workspace=task.workspace, result=task.result) for dep in dispatched.upstream
            if request is not None and (task := request.tasks.get(dep)) is not None and task.result is not None
        ]  # in the prompt already; kept for agents older than the `prompt` field
        return TaskCommand(
            task_id=dispatched.task_id, request_id=dispatched.request_id, workspace=dispatched.workspace,
            task=dispatched.task, request_text=request.text if request else "", prompt=order.prompt, upstream=upstream,
            instructions=order.instructions, timeout_s=limits.task_timeout_s, max_turns=limits.workspace_max_turns,
            model=settings.models.workspace, bash=BashPolicy(mode=bash.mode, allow=bash.allow, deny=list(bash.deny)),
            upstream_context_chars=limits.upstream_context_chars, max_message_chars=limits.max_message_chars,
            max_budget_usd=limits.max_cost_usd_per_task, sandbox=permissions.sandbox,
            network_allow=list(permissions.network.allow), relay=list(permissions.relay.actions),
            relay_timeout_s=permissions.relay.timeout_s, approved_by=request.approved_by if request else "",
        )

    async def execute(self, order: TaskOrder, handle: TaskHandle) -> None:
        """Queue the task for the workspace's agent; its reports are told to `handle`."""
        dispatched = order.dispatched
        self.in_flight[dispatched.task_id] = InFlight(dispatched, handle, self._monotonic())
        try:
            await self.bus.send_task(dispatched.workspace, dispatched.task_id, self.command_for(order))
        except BusError as err:
            self.in_flight.pop(dispatched.task_id, None)
            await handle.finish(Failed(str(err)))

    async def cancel(self, task_id: str, by: str) -> None:
        """Ask the agent running `task_id` to stop (its report of the cancel ends the task)."""
        flight = self.in_flight.get(task_id)
        if flight is None:
            return
        try:
            await self.bus.send_control(flight.dispatched.workspace, CancelCommand(task_id=task_id, by=by))
        except BusError as err:
            log.warning("could not send the cancel of task %s: %s", task_id, err)

    async def in_place(self, workspace: str) -> bool:
        """A remote workspace's agent takes its tasks one at a time itself: no turn-taking here."""
        return False

    async def roll_back(self, request_id: str, task_id: str, workspace: str) -> bool:
        """A remote agent's task is its agent's: nothing to undo here (it was adopted, or is lost)."""
        return False

    async def adopt(self, handle_for: Callable[[WorkspaceTaskDispatched], TaskHandle]) -> set[str]:
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
                if not isinstance(event, WorkspaceTaskDispatched) or event.task_id not in running or event.task_id in adopted:
                    continue
                flight = InFlight(event, handle_for(event), self._monotonic(), started=running[event.task_id].status == "running")
                self.in_flight[event.task_id] = flight
                adopted.add(event.task_id)
                for question in request.pending_questions():
                    number = _question_number(event, question.permission_id) if question.task_id == event.task_id else None
                    if number is not None:
                        self._relay(flight, number, Question(question.tool, question.detail, question.reason, ""))
        return adopted

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
        handle = flight.handle
        match report:
            case Started() if not flight.started:
                flight.started, flight.agent_id = True, report.agent_id
                flight.child_lines = 0 if report.child_request_id else -1
                handle.started(report.agent_id[:200], report.child_request_id)
            case Progressed() if flight.started:
                # A child orchestrator's lines are each recorded (bounded: a host is not trusted to be brief).
                every = 0 <= flight.child_lines < MAX_CHILD_LINES
                flight.child_lines += 1 if every else 0
                handle.progress(Progress(kind=report.kind, detail=report.detail, every=every))
            case Decided() if flight.started:
                # The host is not trusted: the handle cuts what it says to size, and it never speaks for a person.
                handle.decided(PermissionNote(report.tool, report.detail, report.allowed, report.reason, report.rule, report.by))
            case Asked() if flight.started and 0 < report.number <= _MAX_QUESTIONS:
                self._relay(flight, report.number, Question(report.tool, report.detail, report.reason, report.rule))
            case Finished():
                del self.in_flight[report.task_id]
                self._remember_ended(report.task_id)
                await handle.finish(finished_end(report))
        return b"ok"

    def _relay(self, flight: InFlight, number: int, question: Question) -> None:
        """Put the agent's question to the conversation; send the answer back when it comes."""

        async def relay() -> None:
            answer = await flight.handle.ask(question, number)
            await self._send_answer(flight.dispatched, number, answer)

        task = self.background.start(relay(), name=f"question {number} of {flight.dispatched.task_id}")
        flight.relays.add(task)
        task.add_done_callback(flight.relays.discard)

    async def _send_answer(self, dispatched: WorkspaceTaskDispatched, number: int, answer: Answer) -> None:
        command = AnswerCommand(task_id=dispatched.task_id, answer_to=number, allowed=answer.allowed, by=answer.by, reason=answer.reason)
        try:
            await self.bus.send_control(dispatched.workspace, command)
        except BusError as err:  # the agent refuses the action once its own deadline passes
            log.warning("could not send the answer to question %d of task %s: %s", number, dispatched.task_id, err)

    def _remember_ended(self, task_id: str) -> None:
        self._ended[task_id] = None
        if len(self._ended) > REMEMBER_ENDED:
            del self._ended[next(iter(self._ended))]

    def _settled(self, task_id: str) -> bool:
        if task_id in self._ended:
            return True
        for request in self.requests.requests.values():  # ended before a restart: its request is recent
            for task in request.tasks.values():
                if task.task_id == task_id:
                    return task.status not in ("dispatched", "running")
        return False

    def _arm_watchdog(self) -> None:
        # A periodic check, not a synchronisation: a task fails at most one period after its silence passes the limit.
        self._watchdog = self._timers.call_after(min(1.0, self.lost_after_s / 4), self._check_heartbeats)

    def _check_heartbeats(self) -> None:
        """Fail the tasks whose agent fell silent, then check again a period later (on the loop)."""
        try:
            for task_id in silent_tasks(self.in_flight, self.presences, self._monotonic(), self.lost_after_s):
                flight = self.in_flight.pop(task_id)
                self._remember_ended(task_id)
                seen = self.presences.get(flight.dispatched.workspace)
                agent = flight.agent_id or (seen[0].agent_id if seen else "its agent")
                for relay in flight.relays:
                    relay.cancel()
                error = f"agent lost: no heartbeat from {agent} for {self.lost_after_s:g} s"
                losing = self.background.start(flight.handle.finish(Failed(error)), name=f"lost {task_id}", drain=True)
                self._losing.add(losing)
                losing.add_done_callback(self._losing.discard)
        finally:
            if self._watchdog is not None:  # None once stopped
                self._arm_watchdog()


def _ago(span: timedelta) -> str:
    """`40 s ago`, `5 min ago`, `3 h ago`, `2 days ago`."""
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} day{'s' if seconds >= 2 * 86400 else ''} ago"


def _question_number(dispatched: WorkspaceTaskDispatched, question_id: str) -> int | None:
    """Which of the task's questions `question_id` is (ids are derived from the number)."""
    return next((n for n in range(1, _MAX_QUESTIONS + 1) if permission_id(dispatched, n) == question_id), None)
