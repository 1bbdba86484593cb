"""A world for the actors' decision tables: real actors on pykka threads, fake ports, no I/O.

The event log is a list (`fakes.MemoryLog`). Every append is stored in order (idempotent by
id, with the session guard JetStream applies) and folded at once into real `SessionsView` /
`RequestsView` projections, so an actor decides on current state as it does in production,
where the dispatcher waits for the projections before it delivers. (Production folds a little
later than it appends: an actor that reads a projection between two of its own writes sees the
first here, and may not there.) The tree, the read-only agents and the task runner are fakes;
time and ids are a manual clock and a counter.

`World.deliver` does what the dispatcher does for one actor: the event is stored, then handed
over in a `Deliver` whose `done` resolves a future the test awaits. Work the actor hands to the
loop (an agent call) is awaited too, and the actor's mailbox drained, before the events it
recorded are returned: nothing waits on a timer. `World.flow` routes an event, and all it
causes, through the production `Directory`, for decisions that take more than one actor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import pykka
from pykka.messages import ProxyGetAttr

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.base import Deliver, EventActor
from claude_tunnels.actors.context import ActorContext, Recorder
from claude_tunnels.actors.reactions import Directory
from claude_tunnels.actors.tree import Tree
from claude_tunnels.config.settings import Settings
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections import RequestsView, SessionsView
from tests.actors.fakes import FakeIntegrator, MemoryLog, RecordingTasks, ScriptedAdvisors, StaticTree, loaded, sample_tree
from tests.clocks import ManualClock, SequentialIds  # the one import of the test clock and ids

T0 = datetime(2026, 11, 21, 9, 30, 0, tzinfo=UTC)
WAIT_S = 10.0
"""How long a test waits for an actor before it fails (a hang is a failure, never a pass)."""

ActorT = TypeVar("ActorT", bound=EventActor)
T = TypeVar("T")

# People: the requester, a configured approver, and someone else in the same channel.
ALICE = "slack:UALICE"
BOSS = "slack:UBOSS"
BOB = "slack:UBOB"


# -- the world -------------------------------------------------------------------------------


class CountingBackground(Background):
    """The production task group, counting the tasks started in it (for `World.settle`)."""

    started = 0

    def start(self, coroutine: Coroutine[Any, Any, T], *, name: str, drain: bool = False) -> asyncio.Future[T]:
        self.started += 1
        return super().start(coroutine, name=name, drain=drain)


def make_context(world: World, loop: asyncio.AbstractEventLoop) -> ActorContext:
    """The one place an `ActorContext` is built: a new field is one more line here."""
    return ActorContext(
        loop=loop, recorder=Recorder(world.log), settings=world.loaded, clock=world.clock, ids=world.ids,
        sessions=world.sessions, requests=world.requests, tree=world.trees, advisors=world.advisors, tasks=world.tasks,
        timers=world.clock,  # the manual clock is the timers too: expiry rows move it
        changes=world.integrator,
        background=world.background,
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
        self.integrator = FakeIntegrator()
        self.background = CountingBackground()
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

    def directory(self) -> Directory:
        """The production `Directory` over this world's context (for `flow`)."""
        directory = Directory(self.ctx)
        for ref in (directory.router, directory.planner, directory.gate, directory.permissions, directory.changes):
            self._track(ref, stops_itself=False)
        return directory

    async def flow(self, directory: Directory, event: AnyEvent) -> list[AnyEvent]:
        """Deliver `event` to the actors `directory` routes it to, then each event they record in
        turn, until nothing more happens; return everything recorded after `event`."""
        await self.log.append(event)
        mark = len(self.log.stored)
        pending = [event]
        while pending:
            current = pending.pop(0)
            for ref in directory.targets(current):
                self._track(ref, stops_itself=True)  # supervisors are retired, task agents stop
                try:
                    pending += await self.deliver(ref, current)
                except pykka.ActorDeadError:
                    pass  # it finished its work: nothing to react (as the dispatcher does)
        return self.log.events[mark:]

    def _track(self, ref: Any, *, stops_itself: bool) -> None:
        if not isinstance(ref, pykka.ActorRef):
            return  # a conversation: its actor retires by itself once idle
        if all(ref is not known for known, _ in self._actors):
            self._actors.append((ref, stops_itself))

    async def settle(self) -> None:
        """Wait for the work the actors handed to the loop and for their mailboxes to drain.

        An actor hands work over (`ctx.start`) before its reaction reports done, and the loop
        runs callbacks in order, so that work is in `ctx.background` by the time this runs. It
        may tell the actor its outcome (an agent's answer): a round trip through each mailbox
        comes after that message. An actor may start more work as it handles that outcome (the
        planner's second call after an invalid plan), which can end, and tell the actor, after
        that round trip was asked for: so the loop goes on while work was started. Failures of
        either are raised here.
        """
        while True:
            started = self.background.started
            while self.ctx.background.running:
                await asyncio.wait_for(asyncio.gather(*list(self.ctx.background.running)), WAIT_S)
            for ref, stops_itself in self._actors:
                try:
                    await asyncio.to_thread(ref.ask(ProxyGetAttr(attr_path=("actor_urn",)), block=False).get, timeout=WAIT_S)
                except pykka.ActorDeadError:
                    if not stops_itself:
                        raise AssertionError(f"{ref} stopped: a reaction failed (see the log)") from None
            if not self.ctx.background.running and self.background.started == started:
                return

    async def close(self) -> None:
        """Stop the actors and any work still on the loop."""
        for ref, _ in self._actors:
            if ref.is_alive():
                await asyncio.to_thread(ref.stop, timeout=WAIT_S)
        for task in list(self.ctx.background.running):
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
