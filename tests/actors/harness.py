"""A world for the actors' decision tables: real actors on pykka threads, fake ports, no I/O.

The event log is a list. Every append is stored in order (idempotent by id, with the session
guard JetStream applies) and folded at once into real `SessionsView` / `RequestsView`
projections, so an actor decides on current state as it does in production, where the
dispatcher waits for the projections before it delivers. The tree, the read-only agents and
the task runner are fakes; time and ids are a manual clock and a counter.

`World.deliver` does what the dispatcher does for one actor: the event is stored, then handed
over in a `Deliver` whose `done` resolves a future the test awaits. Work the actor hands to the
loop (an agent call) is awaited too, and the actor's mailbox drained, before the events it
recorded are returned: nothing waits on a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

import pykka
from pykka.messages import ProxyGetAttr

from actors.agent_errors import AgentError
from actors.base import Deliver, EventActor
from actors.context import ActorContext, Recorder
from actors.ports import Consultation, Consulted, Role, Subscription
from actors.reactions import Directory
from actors.task_runner import TaskRunner
from actors.tree import Project, Tree, TreeError, Workspace
from config.loader import LoadedSettings
from config.settings import Settings
from events.base import Event
from events.catalogue import AnyEvent
from events.execution import WorkspaceTaskDispatched
from events.ids import ManualClock, SequentialIds  # the one import of the test clock and ids
from events.log import AppendConflict, Appended, Stored
from events.subjects import Subjects
from events.values import Usage
from projections import RequestsView, SessionsView
from projections.base import Projection

T0 = datetime(2026, 11, 21, 9, 30, 0, tzinfo=timezone.utc)
WAIT_S = 10.0
"""How long a test waits for an actor before it fails (a hang is a failure, never a pass)."""

ActorT = TypeVar("ActorT", bound=EventActor)

# People: the requester, a configured approver, and someone else in the same channel.
ALICE = "slack:UALICE"
BOSS = "slack:UBOSS"
BOB = "slack:UBOB"


# -- the event log ---------------------------------------------------------------------------


class MemoryLog:
    """An `EventLog` in a list: appends are stored in order and folded into `views` at once."""

    def __init__(self, *views: Projection) -> None:
        self.stored: list[Stored] = []
        self._views = views
        self._seq_of: dict[str, int] = {}
        self._session_last: dict[str, int] = {}
        self._subjects = Subjects()

    @property
    def events(self) -> list[AnyEvent]:
        """Every stored event, in order."""
        return [stored.event for stored in self.stored]

    async def append(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        if event.id in self._seq_of:  # the id is the Nats-Msg-Id: stored once
            return Appended(seq=self._seq_of[event.id], duplicate=True)
        last = self._session_last.get(event.session_key, 0)
        if expected_session_seq is not None and expected_session_seq != last:
            raise AppendConflict(event.session_key, expected_session_seq, f"session {event.session_key} is at {last}")
        seq = len(self.stored) + 1
        stored = Stored(seq=seq, subject=self._subjects.for_event(event), event=cast(AnyEvent, event))
        self.stored.append(stored)
        self._seq_of[event.id] = seq
        if event.family == "session":
            self._session_last[event.session_key] = seq
        for view in self._views:
            view.apply(seq, stored.event)
        return Appended(seq=seq, duplicate=False)

    async def last_seq(self, subject: str | None = None) -> int:
        return len(self.stored) if subject is None else max((s.seq for s in self.stored if s.subject == subject), default=0)

    async def consume(self, name: str, handler: Callable[[Stored], Awaitable[None]]) -> Subscription:
        raise NotImplementedError("the world delivers events itself (World.deliver)")


# -- the other ports -------------------------------------------------------------------------

ROOT = Path("/nowhere/tree")


def _workspace(project: str, name: str | None = None) -> Workspace:
    qualified = f"{project}/{name}" if name else project
    return Workspace(project=project, name=name or project, qualified=qualified, path=ROOT / qualified, claude_md=f"# {qualified}\n")


def _project(name: str, *workspaces: str) -> Project:
    members = tuple(_workspace(name, w) for w in workspaces) or (_workspace(name),)
    return Project(name=name, path=ROOT / name, claude_md=f"# {name}\n", workspaces=members)


def sample_tree() -> Tree:
    """The demo's shape: api-service (its own workspace), shared-lib (core, docs), web-app (backend, frontend)."""
    return Tree(root=ROOT, projects=(
        _project("api-service"), _project("shared-lib", "core", "docs"), _project("web-app", "backend", "frontend"),
    ))


def single_project_tree() -> Tree:
    """One project, `only`: every request is about it."""
    return Tree(root=ROOT, projects=(_project("only"),))


@dataclass
class StaticTree:
    """A `TreeSource` that answers with a fixed tree (or fails with `error`)."""

    current: Tree = field(default_factory=sample_tree)
    remote: set[str] = field(default_factory=set)
    error: TreeError | None = None

    def tree(self) -> Tree:
        if self.error is not None:
            raise self.error
        return self.current

    def remote_workspaces(self) -> set[str]:
        return set(self.remote)


class ScriptedAdvisors:
    """`Advisors` that answer each role as scripted, and remember what they were asked."""

    def __init__(self) -> None:
        self.scripts: dict[Role, Consulted | AgentError] = {}
        self.asked: list[Consultation] = []

    def script(self, role: Role, answer: object, cost_usd: float = 0.01) -> None:
        """How the `role` agent answers from now on: with `answer` as its structured output (its
        text, when a string), costing `cost_usd`; or by raising it, when an `AgentError`."""
        self.scripts[role] = answer if isinstance(answer, AgentError) else Consulted(
            output=None if isinstance(answer, str) else answer, text=answer if isinstance(answer, str) else "",
            usage=Usage(input_tokens=100, output_tokens=10, cost_usd=cost_usd),
        )

    async def consult(self, consultation: Consultation) -> Consulted:
        self.asked.append(consultation)
        if consultation.role not in self.scripts:
            raise AssertionError(f"the {consultation.role} agent was consulted but has no script")
        answer = self.scripts[consultation.role]
        if isinstance(answer, AgentError):
            raise answer
        return answer


class RecordingTasks(TaskRunner):
    """The task runner with nothing behind it: it records what it is asked to run and cancel."""

    def __init__(self, loaded: LoadedSettings, log: MemoryLog, requests: RequestsView, clock: ManualClock, ids: SequentialIds) -> None:
        super().__init__(loaded, log, requests, clock, ids, executors={})
        self.ran: list[WorkspaceTaskDispatched] = []
        self.cancelled: list[tuple[str, str]] = []

    async def run(self, dispatched: WorkspaceTaskDispatched) -> None:
        self.ran.append(dispatched)

    async def cancel_request(self, request_id: str, by: str) -> None:
        self.cancelled.append((request_id, by))


def loaded(settings: Settings) -> LoadedSettings:
    """`settings` as if loaded from a file under a root that is never read."""
    return LoadedSettings(
        settings=settings, config_path=None, root=ROOT, state_dir=ROOT / ".tunnels", archive_dir=ROOT / "ARCHIVE",
        task_log_dir=ROOT / ".tasks",
    )


# -- the world -------------------------------------------------------------------------------


def make_context(world: World, loop: asyncio.AbstractEventLoop) -> ActorContext:
    """The one place an `ActorContext` is built: a new field is one more line here."""
    return ActorContext(
        loop=loop, recorder=Recorder(world.log), settings=world.loaded, clock=world.clock, ids=world.ids,
        sessions=world.sessions, requests=world.requests, tree=world.trees, advisors=world.advisors, tasks=world.tasks,
    )


class World:
    """Actors over a fake context, driven the way the dispatcher drives them (see `running`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: Settings, tree: Tree) -> None:
        self.clock = ManualClock(T0)
        self.ids = SequentialIds(self.clock)
        self.sessions = SessionsView()
        self.requests = RequestsView()
        self.log = MemoryLog(self.sessions, self.requests)
        self.loaded = loaded(settings)
        self.trees = StaticTree(tree)
        self.advisors = ScriptedAdvisors()
        self.tasks = RecordingTasks(self.loaded, self.log, self.requests, self.clock, self.ids)
        self.ctx = make_context(self, loop)
        self._actors: list[tuple[pykka.ActorRef[Any], bool]] = []

    def start(self, actor: type[ActorT], *args: Any, stops_itself: bool = False) -> pykka.ActorRef[ActorT]:
        """Start an actor on this world's context (`stops_itself`: it may end after its work)."""
        ref = actor.start(self.ctx, *args)
        self._track(ref, stops_itself=stops_itself)
        return ref

    async def given(self, *events: AnyEvent) -> None:
        """Record what already happened (folded, delivered to no one)."""
        for event in events:
            await self.log.append(event)

    async def deliver(self, ref: pykka.ActorRef[Any], event: AnyEvent) -> list[AnyEvent]:
        """Store `event` (if new), deliver it to the actor and return what the actor recorded."""
        seq = (await self.log.append(event)).seq
        mark = len(self.log.stored)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if not done.done():
                done.set_result(error)

        def finished(error: BaseException | None) -> None:  # on the actor's thread
            loop.call_soon_threadsafe(settle, error)

        ref.tell(Deliver(event, seq, finished))
        error = await asyncio.wait_for(done, WAIT_S)
        if error is not None:
            raise error
        await self.settle()
        return self.log.events[mark:]

    async def ask(self, ref: pykka.ActorRef[Any], message: object) -> list[AnyEvent]:
        """Send a direct message (a timer's, an agent's answer) and return what the actor recorded."""
        mark = len(self.log.stored)
        reply = ref.ask(message, block=False)
        await asyncio.to_thread(reply.get, timeout=WAIT_S)  # an error in on_message is raised here
        await self.settle()
        return self.log.events[mark:]

    async def react(self, ref: pykka.ActorRef[Any], what: object) -> list[AnyEvent]:
        """`deliver` an event, `ask` anything else."""
        return await self.deliver(ref, cast(AnyEvent, what)) if isinstance(what, Event) else await self.ask(ref, what)

    async def flow(self, directory: Directory, event: AnyEvent) -> list[AnyEvent]:
        """Deliver `event` to the actors `directory` routes it to, then each event they record in
        turn, until nothing more happens; return everything recorded after `event`."""
        for ref in (directory.router, directory.planner, directory.gate, directory.permissions):
            self._track(ref, stops_itself=False)
        await self.log.append(event)
        mark = len(self.log.stored)
        pending = [event]
        while pending:
            current = pending.pop(0)
            for ref in directory.targets(current):
                self._track(ref, stops_itself=True)  # supervisors are retired, task agents stop
                pending += [e for e in await self.deliver(ref, current) if e not in pending]
        return self.log.events[mark:]

    def _track(self, ref: pykka.ActorRef[Any], *, stops_itself: bool) -> None:
        if all(ref is not known for known, _ in self._actors):
            self._actors.append((ref, stops_itself))

    async def settle(self) -> None:
        """Wait for the work the actors handed to the loop and for their mailboxes to drain.

        An actor hands work over (`ctx.start`) before its reaction reports done, and the loop
        runs callbacks in order, so that work is in `ctx.background` by the time this runs. It
        may tell the actor its outcome (an agent's answer): a round trip through each mailbox
        comes after that message. Failures of either are raised here.
        """
        while True:
            while self.ctx.background:
                await asyncio.wait_for(asyncio.gather(*list(self.ctx.background)), WAIT_S)
            for ref, stops_itself in self._actors:
                try:
                    await asyncio.to_thread(ref.ask(ProxyGetAttr(attr_path=("actor_urn",)), block=False).get, timeout=WAIT_S)
                except pykka.ActorDeadError:
                    if not stops_itself:
                        raise AssertionError(f"{ref} stopped: a reaction failed (see the log)") from None
            if not self.ctx.background:
                return

    async def close(self) -> None:
        """Stop the actors and any work still on the loop."""
        for ref, _ in self._actors:
            if ref.is_alive():
                await asyncio.to_thread(ref.stop, timeout=WAIT_S)
        for task in list(self.ctx.background):
            task.cancel()


@asynccontextmanager
async def running(settings: Settings | None = None, tree: Tree | None = None) -> AsyncIterator[World]:
    """A world on the test's event loop, with `settings` (default: BOSS is an approver) and
    `tree` (default: `sample_tree()`); its actors are stopped at the end."""
    world = World(asyncio.get_running_loop(), settings or Settings(approvers=[BOSS]), tree or sample_tree())
    try:
        yield world
    finally:
        await world.close()
