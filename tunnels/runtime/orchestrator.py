"""The composition root of a running orchestrator: backbone, projections, actors, dispatcher.

Every background task of the process is started in one task group, `Orchestrator.background`
(`actors.background.Background`): the actors' agent calls and task runs, the task recorders'
appends, the remote workspaces' watchdog, presence watch and question relays, the chat channels'
outboxes and polling. Leaving the `async with` cancels and awaits them (after the channels and
the dispatcher stop, before the actors and the backbone do), and raises what failed meanwhile,
with what failed while stopping, as one `ExceptionGroup`. One task's failure never cancels the
others: it is logged when it happens and raised at the exit.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from types import TracebackType
from typing import Any

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.changes_gate import ResumeChanges
from claude_tunnels.actors.confirm_gate import Rearm
from claude_tunnels.actors.context import ActorContext, Recorder
from claude_tunnels.actors.dispatcher import Dispatcher
from claude_tunnels.actors.permission_gate import RearmQuestions
from claude_tunnels.actors.phase_supervisor import Resume
from claude_tunnels.actors.ports import Monotonic, Timers
from claude_tunnels.actors.reactions import Directory
from claude_tunnels.actors.reconcile import reconcile
from claude_tunnels.actors.task_runner import TaskRunner
from claude_tunnels.actors.tree import TreeError
from claude_tunnels.actors.warming import Warming
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import MessageReceived, ReplyPosted
from claude_tunnels.events.ids import Clock, IdSource, SystemClock, UlidSource, derived_id
from claude_tunnels.events.log import Appended, Stored
from claude_tunnels.events.values import Delegation
from claude_tunnels.projections import ProjectionRunner, RequestsView, SessionsView
from claude_tunnels.tunnels.agents import ClaudeAdvisors, LocalExecutor, SessionSettings
from claude_tunnels.tunnels.backbone import Backbone, open_backbone, standard_projections
from claude_tunnels.tunnels.bus.lease import Lease
from claude_tunnels.tunnels.bus.workspaces import WorkspaceBus
from claude_tunnels.tunnels.claude.sandbox import check_sandbox
from claude_tunnels.tunnels.git.integrate import GitIntegrator
from claude_tunnels.tunnels.git.tasks import GitTasks
from claude_tunnels.tunnels.runtime.housekeeping import Housekeeping
from claude_tunnels.tunnels.runtime.outage import OutageNotice
from claude_tunnels.tunnels.runtime.parent_link import ParentLink
from claude_tunnels.tunnels.runtime.remote import RemoteWorkspaces
from claude_tunnels.tunnels.runtime.standby import become_active, own_checkpoints
from claude_tunnels.tunnels.runtime.timers import LoopTimers
from claude_tunnels.tunnels.tree_source import DiskTree

log = logging.getLogger(__name__)


async def sandbox_problem(loaded: LoadedSettings) -> str | None:
    """Why workspace agents may not run here, or None; warns when the sandbox is turned off."""
    if not loaded.settings.permissions.sandbox:
        log.warning(
            "permissions.sandbox is off: workspace agents run their commands WITHOUT Claude Code's OS sandbox "
            "(writes and network are then confined only by the permission rules)"
        )
        return None
    check = await asyncio.to_thread(check_sandbox)
    if check.ok:
        return None
    problem = (
        f"the OS sandbox cannot run on this host: {check.problem}; install it, or set "
        "permissions.sandbox: off in orchestrator.yaml to run agents without it"
    )
    log.error("workspace agents will not run: %s", problem)
    return problem


class Orchestrator:
    """`async with Orchestrator(loaded) as orchestrator:` runs the whole system in this process.

    Channels call `post_message` for what people say and `add_listener` to see what happens.
    `agent_env` is extra environment for every Claude Code session (e.g. a scripted model's URL).
    Time is injected: `clock` (the wall clock), `timers` (expiries and the heartbeat watchdog; by
    default on the loop, due by `clock`) and `monotonic` (spans: heartbeat silence, progress
    throttling; `time.monotonic` by default). A test gives a manual clock for all three.
    """

    def __init__(
        self, loaded: LoadedSettings, *, agent_env: Mapping[str, str] | None = None,
        clock: Clock | None = None, ids: IdSource | None = None, timers: Timers | None = None,
        monotonic: Monotonic | None = None, channels: Callable[[Orchestrator], Sequence[Any]] | None = None,
    ) -> None:
        self.loaded = loaded
        self.agent_env = dict(agent_env or {})
        self.clock = clock or SystemClock()
        self.ids = ids or UlidSource()
        self._timers = timers
        self.monotonic = monotonic or time.monotonic
        self._stack = AsyncExitStack()
        self.background = Background("orchestrator")
        """The task group of every background task of this orchestrator (see the module's docstring)."""
        self.backbone: Backbone | None = None
        self.runner: ProjectionRunner | None = None
        self.ctx: ActorContext | None = None
        self.directory: Directory | None = None
        self.trees: DiskTree | None = None
        """The project tree (kept, and checked against the folders once per request)."""
        self.dispatcher: Dispatcher | None = None
        self._channel_factory = channels
        self.channels: list[Any] = []
        self.parent_link: ParentLink | None = None
        """The link to a parent orchestrator (`parent:` in the settings), when there is one."""
        self.lease: Lease | None = None
        """The lease that makes this the active orchestrator of a shared log (`nats.url` set)."""

    async def __aenter__(self) -> Orchestrator:
        self.background.attach(asyncio.get_running_loop())
        try:
            await self._start()
        except BaseException as err:
            await self._stop()
            self.background.raise_failures(err)
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._stop()
        self.background.raise_failures(exc)

    async def _start(self) -> None:
        loaded = self.loaded
        self.backbone = await self._stack.enter_async_context(open_backbone(loaded, role="owner", name="tunnels-orchestrator"))
        store = self.backbone.store
        if loaded.settings.nats.url is not None:
            # A shared log: stand by until this one holds the lease; nothing below runs before.
            self.lease = await become_active(loaded, store, self.background)
            self._stack.push_async_callback(self.lease.release)  # at a clean stop: a standby takes over at once
        checkpoints = None
        if self.lease is not None:
            # Orchestrators sharing a tree must not share checkpoint files (a paused ex-holder may
            # hold their locks): the active one rebuilds its own from the stream.
            checkpoints = await asyncio.to_thread(own_checkpoints, loaded, self.lease.name)
            self._stack.callback(shutil.rmtree, checkpoints, True)
        sessions, requests, task_log = views = standard_projections(loaded, checkpoints)
        self.task_log = task_log
        # As a block: a listener's failure (kept by the runner) is raised when it stops.
        self.runner = await self._stack.enter_async_context(ProjectionRunner(store, views))
        task_log.prune(self.clock.now().date(), loaded.settings.task_log.retention_days)
        recorder = Recorder(store, last_seq=await store.last_seq())
        self.timers: Timers = self._timers or LoopTimers(asyncio.get_running_loop(), self.clock)
        self.remote = RemoteWorkspaces(
            WorkspaceBus(store, background=self.background), requests, loaded,
            lost_after_s=loaded.settings.remote.lost_after_s, timers=self.timers, monotonic=self.monotonic,
            background=self.background, clock=self.clock,
        )
        trees = self.trees = DiskTree(loaded, self.remote)
        try:  # the first walk, in a worker thread: afterwards the loop reads the kept tree
            await trees.current()
        except TreeError as err:
            log.warning("the project tree cannot be read yet: %s", err)  # each request says it again
        sessions_settings = SessionSettings(loaded, self.agent_env)
        local = LocalExecutor(
            sessions_settings, trees, GitTasks(loaded, requests), sandbox_problem=await sandbox_problem(loaded)
        )
        self.housekeeping = await self._stack.enter_async_context(  # git leftovers cleaned up, then a sweep every hour
            Housekeeping(loaded, requests, trees, self.timers, self.clock, self.background, local.running))
        self.tasks = TaskRunner(
            loaded, recorder, requests, self.clock, self.ids, {"local": local, "remote": self.remote},
            monotonic=self.monotonic, background=self.background, warmer=local.warm,
        )
        self.runner.add_listener(self.tasks.desk.on_event)
        # Tasks' sessions started ahead follow the requests; all of them end at shutdown (after
        # the background work, which may still hand one out, has stopped).
        self.runner.add_listener(Warming(requests, local.warm, self.background).on_event)
        self._stack.push_async_callback(local.warm.close)
        adopted = await self.remote.adopt(self.tasks.handle_for)  # before start(): their agents' reports must find them
        await self.remote.start()
        self._stack.push_async_callback(self.remote.stop)
        self.ctx = ActorContext(
            loop=asyncio.get_running_loop(), recorder=recorder, settings=loaded, clock=self.clock, ids=self.ids, timers=self.timers,
            sessions=sessions, requests=requests, tree=trees, advisors=ClaudeAdvisors(sessions_settings), tasks=self.tasks,
            background=self.background, changes=GitIntegrator.from_settings(loaded),
        )
        self.directory = Directory(self.ctx)
        if self._channel_factory is not None:
            # Channels attach before anything reacts, so they see what the restart settles too.
            for channel in self._channel_factory(self):
                await channel.start()
                self.channels.append(channel)
        directory = self.directory

        def resume(request_id: str, verdict: Resume) -> None:
            supervisor = directory.supervisor(request_id, create=True)
            if supervisor is not None:
                supervisor.tell(verdict)  # first in its mailbox: before any event is delivered again

        # Before the dispatcher: what the crash left is decided on the state it left, and a
        # redelivered event (an approval, a task's end) then finds its request taken up already.
        taken = await reconcile(self.ctx, resume, adopted)
        if taken:
            log.warning("took up %d request(s) left open by a previous run", taken)
        self.dispatcher = Dispatcher(self.ctx, self.runner, self.directory)
        await self.dispatcher.start()
        self.directory.gate.tell(Rearm())
        self.directory.permissions.tell(RearmQuestions())
        self.outage = OutageNotice(
            after_s=loaded.settings.nats.outage_notice_s, timers=self.timers, clock=self.clock, sessions=sessions,
            channels=lambda: self.channels, background=self.background, on_return=self.remote.bus_returned,
        )
        self.backbone.health.listen(self.outage.changed)
        self.directory.changes.tell(ResumeChanges())
        if loaded.settings.parent.url is not None:
            # Last: a parent's task becomes a message here, which the whole flow must be up to take.
            self.parent_link = ParentLink(self, loaded, trees)
            await self.parent_link.start()

    async def _stop(self) -> None:
        """Stop everything in order; what fails is kept in the task group (raised by the caller)."""
        if self.parent_link is not None:
            await self.parent_link.stop()  # first: a task it runs is cancelled while the flow still runs
        for channel in reversed(self.channels):
            try:
                await channel.stop()
            except Exception as err:
                log.exception("could not stop the %s channel cleanly", getattr(channel, "name", "?"))
                self.background.collect(err)
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        # No event is delivered any more: cancel and await the background work (a task agent
        # being cancelled records how its task ended), then stop the actors that started it.
        await self.background.aclose()
        try:
            if self.directory is not None:
                await asyncio.to_thread(self.directory.stop_all)
        except Exception as err:
            self.background.collect(err)
        try:
            await self._stack.aclose()
        except Exception as err:
            self.background.collect(err)

    async def lease_lost(self) -> None:
        """Return if this orchestrator loses its lease (never without one): it must then stop."""
        if self.lease is None:
            await asyncio.Event().wait()
        else:
            await self.lease.lost.wait()

    @property
    def store(self) -> Any:
        """The event store (for commands that read history)."""
        assert self.backbone is not None
        return self.backbone.store

    @property
    def requests(self) -> RequestsView:
        """The requests projection (what channels render from)."""
        assert self.ctx is not None, "the orchestrator has not started"
        return self.ctx.requests

    @property
    def sessions(self) -> SessionsView:
        """The sessions projection (conversations, their unconfirmed replies)."""
        assert self.ctx is not None, "the orchestrator has not started"
        return self.ctx.sessions

    async def stored(self, seq: int) -> Stored:
        """The event stored at `seq` (LookupError once it aged out of the stream)."""
        assert self.backbone is not None
        return await self.backbone.store.get(seq)

    def add_listener(self, listener: Callable[[int, AnyEvent], None]) -> None:
        """Call `listener(seq, event)` on the loop for every event once the projections have it."""
        assert self.runner is not None
        self.runner.add_listener(listener)

    async def record_reply(self, replied: AnyEvent, *, channel: str, chat_ref: str) -> Appended:
        """Record that `channel` posted its message for `replied` (recorded twice, stored once)."""
        assert self.ctx is not None
        event = ReplyPosted(
            id=derived_id(replied.at, f"reply:{channel}:{replied.id}"), at=self.clock.now(), session_key=replied.session_key,
            request_id=getattr(replied, "request_id", None), channel=channel, in_reply_to=replied.id, chat_ref=chat_ref,
        )
        return await self.ctx.recorder.append(event)

    async def post_message(
        self, *, session_key: str, channel: str, sender: str, text: str, message_ref: str,
        sender_name: str = "", action: str | None = None, request_id: str | None = None, sent_at: datetime | None = None,
        permission_id: str | None = None, repo: str | None = None, delegation: Delegation | None = None,
    ) -> Appended:
        """Record what a person said. The same `message_ref` (a chat's own message id) is stored once."""
        assert self.ctx is not None
        at = sent_at or self.clock.now()
        event = MessageReceived(
            id=derived_id(at, f"{channel}:{message_ref}"), at=at, session_key=session_key, request_id=request_id,
            channel=channel, sender=sender, sender_name=sender_name, text=text, message_ref=message_ref, action=action,  # type: ignore[arg-type]
            permission_id=permission_id, repo=repo, delegation=delegation,
        )
        return await self.ctx.recorder.append(event)
