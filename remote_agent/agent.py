"""The remote workspace agent: announces itself, takes its workspace's tasks one at a time, reports.

Lifecycle: connect (retrying until the server answers), then at once: the presence heartbeat,
the control subscription (cancels) and the pull loop. A task is written to the on-disk ledger
and acknowledged when it starts, so it never runs twice; a task the previous agent process was
running when it died is reported `interrupted` at start-up (see `ledger`). `drain()` (SIGTERM)
stops pulling, gives the running task `drain_timeout_s` to finish, interrupts it otherwise, marks
the presence `draining`, sends the reports still queued, and lets `serve()` return.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import msgspec
from nats.aio.msg import Msg

from claude_tunnels.actors.ports import Progress
from claude_tunnels.actors.tree.claude_md import read_claude_md
from claude_tunnels.remote_agent.errors import AlreadyRunning, ConnectionClosed, ConsumerMissing, LinkError, SettingsError, Unreachable
from claude_tunnels.remote_agent.ledger import TaskLedger
from claude_tunnels.remote_agent.ports import AgentPorts, Link, Lock
from claude_tunnels.remote_agent.protocol import (
    ENCODER,
    PROTOCOL_VERSION,
    AnswerCommand,
    CancelCommand,
    Finished,
    Presence,
    Started,
    TaskCommand,
)
from claude_tunnels.remote_agent.questions import TaskQuestions
from claude_tunnels.remote_agent.reports import ReportSender
from claude_tunnels.remote_agent.settings import AgentSecrets, AgentSettings, host_name

log = logging.getLogger(__name__)

_TASKS = msgspec.json.Decoder(TaskCommand)
_CANCELS = msgspec.json.Decoder(CancelCommand)
_ANSWERS = msgspec.json.Decoder(AnswerCommand)
_PULL_WAIT_S = 5.0
_CLAUDE_MD_BYTES = 16_000
_REMEMBERED = 1000
_FLUSH_AT_EXIT_S = 15.0


def agent_version() -> str:
    """The installed claude-tunnels version."""
    try:
        return metadata.version("claude-tunnels")
    except metadata.PackageNotFoundError:
        return "0+unknown"


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; whether it was set.

    Not `asyncio.wait_for`: on Python 3.11 it can swallow a cancellation that arrives just as
    the event is set, and a cancelled loop would then run on forever.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()


async def stop_task(task: asyncio.Task[object]) -> None:
    """Cancel `task` and wait for it, cancelling again if a cancellation was swallowed."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)


class _Running:
    def __init__(self, task_id: str, task: asyncio.Task[Finished]) -> None:
        self.task_id = task_id
        self.task = task
        self.outcome: Literal["cancelled", "interrupted"] = "interrupted"
        self.why = ""

    def stop(self, outcome: Literal["cancelled", "interrupted"], why: str) -> None:
        if not self.task.done() and not self.task.cancelling():
            self.outcome, self.why = outcome, why
            self.task.cancel()


class WorkspaceAgent:
    """`async with WorkspaceAgent(settings, secrets) as agent: await agent.serve()`.

    `serve()` returns after `drain()`; leaving the block closes the connection. `ledger` holds
    the tasks this workspace's agent started and finished (on disk, across restarts).
    """

    def __init__(self, settings: AgentSettings, secrets: AgentSecrets, ports: AgentPorts) -> None:
        self.settings = settings
        self.secrets = secrets
        self.ports = ports
        self.workspace = Path(settings.path).resolve()
        self.agent_id = f"{host_name()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.version = agent_version()
        self.ledger: TaskLedger | None = None
        self._cancelled: deque[str] = deque(maxlen=_REMEMBERED)
        self._draining = asyncio.Event()
        self._beat_now = asyncio.Event()
        self._running: _Running | None = None
        self._link: Link | None = None
        self._reports: ReportSender | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._lock: Lock | None = None
        self._questions: TaskQuestions | None = None
        self.sandbox_problem = ports.sandbox_problem
        """Why this host cannot run the OS sandbox ("" when it can): sandboxed tasks are then refused."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> WorkspaceAgent:
        self._take_lock()
        try:
            self.ledger = ledger = TaskLedger(self.settings.state_path / "tasks.log")
            self._link = await self._connect()
            if self._link is not None:
                await self._link.start_pulling()
                await self._link.on_control(self._on_control)
                self._reports = await ReportSender(
                    self._link, progress_interval_s=self.settings.progress_interval_s,
                    on_answered=lambda report: ledger.finish(report.task_id) if isinstance(report, Finished) else None,
                ).__aenter__()
                self._heartbeat = asyncio.create_task(self._beat())
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._heartbeat is not None:
                await stop_task(self._heartbeat)
                if not self._heartbeat.cancelled() and self._heartbeat.exception() is not None:
                    raise self._heartbeat.exception()  # type: ignore[misc]
            if self._reports is not None:
                await self._reports.__aexit__()
            if self._link is not None:
                await self._link.close()
        finally:
            self._release_lock()

    def drain(self) -> None:
        """Stop taking tasks and let the running one finish (a second call interrupts it now)."""
        if self._draining.is_set() and self._running is not None:
            self._running.stop("interrupted", "the agent was stopped")
        self._draining.set()
        self._beat_now.set()

    @property
    def draining(self) -> bool:
        """True once `drain()` was called."""
        return self._draining.is_set()

    def _take_lock(self) -> None:
        state = self.settings.state_path
        try:
            self._lock = self.ports.take_lock(state / "agent.lock")
        except AlreadyRunning as held:
            raise SettingsError(
                f"another tunnels-agent ({held.owner}) already serves {self.settings.workspace} with the state "
                f"folder {state}; stop it first (one agent per workspace)"
            ) from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    async def _connect(self) -> Link | None:
        pause = 0.5
        while not self._draining.is_set():
            try:
                link = await self.ports.open_link(self.settings, self.secrets)
                log.info("connected to %s as the agent of %s", self.settings.nats, self.settings.workspace)
                return link
            except Unreachable as err:
                log.warning("%s; retrying in %.0f s", err, pause)
            await self._pause(pause)
            pause = min(pause * 2, 30.0)
        return None

    async def _pause(self, seconds: float) -> None:
        """A retry pause that ends early when draining starts."""
        await wait_event(self._draining, seconds)

    # -- presence -------------------------------------------------------------------------------

    def presence(self) -> Presence:
        """The presence this agent announces now."""
        return Presence(
            workspace=self.settings.workspace, agent_id=self.agent_id, host=host_name(), version=self.version,
            capacity=1, claude_md=self._claude_md(), heartbeat_s=self.settings.heartbeat_s,
            heartbeat_at=time.time(), draining=self._draining.is_set(),
        )

    def _claude_md(self) -> str:
        # Bounded, and never through a link out of the workspace: it is announced to the hub.
        return read_claude_md(self.workspace, _CLAUDE_MD_BYTES) or ""

    async def _beat(self) -> None:
        assert self._link is not None
        failing = False
        while True:
            try:
                await self._link.put_presence(ENCODER.encode(self.presence()))
                if failing:
                    log.info("presence written again")
                failing = False
            except LinkError as err:
                if not failing:
                    log.warning(
                        "%s (is the orchestrator running?%s retrying every %.0f s)", err,
                        "" if self.settings.js_domain else " behind a leaf node, give the hub's --js-domain;",
                        self.settings.heartbeat_s,
                    )
                failing = True
            await wait_event(self._beat_now, self.settings.heartbeat_s)
            self._beat_now.clear()

    # -- tasks ----------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Take and run tasks until `drain()`; then settle what is left and return."""
        if self._link is None or self._reports is None:
            return  # drained before a connection was made
        log.info("serving %s from %s (agent %s)", self.settings.workspace, self.workspace, self.agent_id)
        assert self.ledger is not None
        for task_id in self.ledger.unfinished():
            log.warning("task %s was running when the previous agent stopped: reporting it interrupted", task_id)
            self._reports.send(Finished(task_id=task_id, outcome="interrupted", error="the agent stopped while running it"))
        waiting = False
        while not self._draining.is_set():
            if self._heartbeat is not None and self._heartbeat.done():
                self._heartbeat.result()  # a bug in the heartbeat: crash (and be restarted), never run unannounced
            try:
                msg = await self._next_task()
            except ConsumerMissing as err:
                if not waiting:
                    log.info("%s; waiting for the orchestrator to create it", err)
                waiting = True
                await self._pause(min(self.settings.heartbeat_s, 2.0))
                continue
            except ConnectionClosed:
                raise  # nats-py gives up only on fatal errors: exit and let the supervisor restart us
            except LinkError as err:
                log.warning("%s; retrying", err)
                await self._pause(1.0)
                continue
            waiting = False
            if msg is not None:
                await self._take(msg)
        for msg in await self._link.stop_pulling():
            await self._take(msg, refuse="the agent stopped before starting it")
        self._beat_now.set()
        if not await self._reports.flush(_FLUSH_AT_EXIT_S):
            log.warning("%d report(s) could not be delivered before exiting", self._reports.pending)
        log.info("drained; exiting")

    async def _next_task(self) -> Msg | None:
        assert self._link is not None
        pull = asyncio.ensure_future(self._link.next_task(_PULL_WAIT_S))
        drained = asyncio.ensure_future(self._draining.wait())
        try:
            await asyncio.wait({pull, drained}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
            if not pull.done():
                pull.cancel()  # a message that arrives later stays queued for stop_pulling()
            await asyncio.gather(pull, drained, return_exceptions=True)
        return None if pull.cancelled() else pull.result()

    async def _take(self, msg: Msg, refuse: str = "") -> None:
        assert self._link is not None and self._reports is not None
        try:
            command = _TASKS.decode(msg.data)
        except msgspec.DecodeError as err:
            await self._link.ack(msg)
            log.error("ignored a malformed task message: %s", err)
            return
        assert self.ledger is not None
        if command.task_id in self.ledger:
            await self._link.ack(msg)
            log.warning("task %s was delivered again; it already ran here", command.task_id)
            return
        self.ledger.start(command.task_id)  # on disk before the ack: a task never runs twice
        await self._link.ack(msg)
        task_id = command.task_id
        if problem := refuse or self._problem(command):
            outcome: Literal["interrupted", "failed"] = "interrupted" if refuse else "failed"
            self._reports.send(Finished(task_id=task_id, outcome=outcome, error=problem))
            return
        if task_id in self._cancelled:
            self._reports.send(Finished(task_id=task_id, outcome="cancelled", error="cancelled before it started"))
            return
        log.info("task %s started", task_id)
        if self.reports_start:
            self._reports.send(Started(task_id=task_id, agent_id=self.agent_id))
        finished = await self._run(command)
        log.info("task %s %s", task_id, finished.outcome)
        self._reports.send(finished)
        self._reports.forget(task_id)

    def _problem(self, command: TaskCommand) -> str:
        if command.workspace != self.settings.workspace:
            return f"the task is for {command.workspace}, but this agent serves {self.settings.workspace}"
        if command.version > PROTOCOL_VERSION:
            return f"the task uses protocol {command.version}; this agent ({self.version}) knows {PROTOCOL_VERSION}: upgrade it"
        if command.sandbox and self.sandbox_problem:
            return (
                f"the OS sandbox cannot run on the agent's host ({self.sandbox_problem}); install bubblewrap and "
                "socat there, or set permissions.sandbox: off on the orchestrator"
            )
        return ""

    async def _run(self, command: TaskCommand) -> Finished:
        assert self._reports is not None
        reports = self._reports
        def on_progress(progress: Progress) -> None:
            reports.progress(command.task_id, progress.kind, progress.detail)

        questions = self._questions = TaskQuestions(reports, command.task_id, command.relay_timeout_s)
        running = _Running(command.task_id, asyncio.create_task(self._session(command, on_progress, questions)))
        self._running = running
        try:
            await self._until_done_or_drain_timeout(running)
        finally:
            self._running = None
            self._questions = None
            if not running.task.done():  # we are being cancelled ourselves: never leave a session behind
                running.stop("interrupted", "the agent was stopped")
                await asyncio.wait({running.task})
        if running.task.cancelled():
            return Finished(task_id=command.task_id, outcome=running.outcome, error=running.why)
        if (error := running.task.exception()) is not None:
            log.error("task %s crashed the agent's runner", command.task_id, exc_info=error)
            return Finished(task_id=command.task_id, outcome="failed", error=f"the agent failed: {type(error).__name__}: {error}")
        return running.task.result()

    reports_start = True
    """Whether `Started` is sent as the task is taken (a subclass whose `_session` sends it later sets False)."""

    def _session(self, command: TaskCommand, on_progress: Callable[[Progress], None], questions: TaskQuestions) -> Coroutine[Any, Any, Finished]:
        """What runs the task: a Claude Code session in the workspace folder (cancelled to stop it)."""
        return self.ports.sessions.run(
            command, self.workspace, protected=self._private_paths(), on_progress=on_progress,
            on_decision=questions.on_decision, ask=questions.ask if command.relay else None,
        )

    async def _until_done_or_drain_timeout(self, running: _Running) -> None:
        drained = asyncio.ensure_future(self._draining.wait())
        try:
            await asyncio.wait({running.task, drained}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
        if running.task.done():
            return
        limit = self.settings.drain_timeout_s
        log.info("draining: giving task %s up to %g s to finish", running.task_id, limit)
        done, _ = await asyncio.wait({running.task}, timeout=limit)
        if not done:
            running.stop("interrupted", f"the agent was stopped and the task did not finish within {limit:g} s")
            await asyncio.wait({running.task})

    def _private_paths(self) -> tuple[Path, ...]:
        """What the agent's sessions may never read: its state and the files holding its secrets."""
        named = (self.settings.creds_file, self.settings.nkey_seed_file, self.settings.password_file,
                 self.settings.tls_key, self.settings.env_file)
        return (self.settings.state_path, *(Path(name) for name in named if name))

    def _on_control(self, data: bytes) -> None:
        try:
            answer = _ANSWERS.decode(data)  # first: a cancel decoder would take an answer for a cancel
        except msgspec.DecodeError:
            pass
        else:
            questions = self._questions
            if questions is not None and questions.task_id == answer.task_id:
                questions.answered(answer)
            return
        try:
            command = _CANCELS.decode(data)
        except msgspec.DecodeError as err:
            log.warning("ignored a malformed control message: %s", err)
            return
        self._cancelled.append(command.task_id)
        running = self._running
        if running is not None and running.task_id == command.task_id:
            log.info("task %s cancelled by %s", command.task_id, command.by)
            running.stop("cancelled", f"cancelled by {command.by}")
