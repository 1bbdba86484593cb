"""The directory's actors' lifetimes: conversations retired when idle, started again for their next
event (never losing one that arrives while the actor retires), and each directory stopping only
its own actors.

No loop and no NATS: the actors' context records what they emit and folds it into the views at
once, and the test plays the dispatcher (it tells each target a `Deliver` and waits on `done`).
Interleavings are forced with `threading.Event`s, never with sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka
import pytest

from claude_tunnels.actors.base import Deliver
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.conversations import DirectoryStopped
from claude_tunnels.actors.reactions import Directory
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.base import Event
from claude_tunnels.events.conversation import MessageQueued, RequestOpened
from claude_tunnels.events.log import Appended
from claude_tunnels.projections.views import RequestsView, SessionsView
from tests.factories import Events

KEY = "terminal:alice"
WAIT_S = 10.0


@dataclass
class RecordingContext(ActorContext):
    """An actor context whose `emit` stores the event and folds it into the views at once."""

    events: Events = field(default_factory=Events)
    """Builds what people say, on the same clock and ids as the actors."""
    recorded: list[Event] = field(default_factory=list)
    before_emit: Callable[[Event], None] | None = None
    _seq_lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self, event: Event) -> int:
        """Append `event` to the in-memory log and fold it; its sequence."""
        with self._seq_lock:
            self.recorded.append(event)
            seq = len(self.recorded)
            self.sessions.apply(seq, event)  # type: ignore[arg-type]
            self.requests.apply(seq, event)  # type: ignore[arg-type]
            return seq

    def emit(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        if self.before_emit is not None:
            self.before_emit(event)
        return Appended(seq=self.store(event), duplicate=False)

    def of_type(self, cls: type) -> list[Any]:
        """The recorded events of one type."""
        return [event for event in self.recorded if isinstance(event, cls)]


class Done:
    """A `done` callback to wait on; with `hold`, it keeps the actor's thread until `hold` is set."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.handled = threading.Event()
        self.error: BaseException | None = None
        self.hold = hold

    def __call__(self, error: BaseException | None) -> None:
        self.error = error
        self.handled.set()
        if self.hold is not None:
            assert self.hold.wait(WAIT_S)

    def wait(self) -> None:
        assert self.handled.wait(WAIT_S), "the reaction never ended"
        assert self.error is None, self.error


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[[], RecordingContext]:
    loaded = load_settings(None, root=tmp_path)

    def make() -> RecordingContext:
        ev = Events()
        return RecordingContext(
            loop=None, recorder=None, settings=loaded, clock=ev.clock, ids=ev.ids,  # type: ignore[arg-type]
            sessions=SessionsView(), requests=RequestsView(), tree=None, advisors=None, tasks=None, events=ev,  # type: ignore[arg-type]
            timers=ev.clock,
        )

    return make


@pytest.fixture
def directories() -> Iterator[list[Directory]]:
    made: list[Directory] = []
    yield made
    for directory in made:
        directory.stop_all()


@pytest.fixture
def ctx(make_context: Callable[[], RecordingContext]) -> RecordingContext:
    return make_context()


@pytest.fixture
def directory(ctx: RecordingContext, directories: list[Directory]) -> Directory:
    directories.append(Directory(ctx))
    return directories[-1]


def say(ctx: RecordingContext, directory: Directory, text: str, done: Done | None = None) -> Done:
    """Store what alice said and deliver it, as the dispatcher would; the `done` to wait on."""
    done = done or Done()
    message = ctx.events.message(KEY, text)
    seq = ctx.store(message)
    [target] = directory.targets(message)  # type: ignore[arg-type]
    target.tell(Deliver(message, seq, done))  # type: ignore[arg-type]
    return done


def test_a_conversation_actor_is_retired_when_idle_and_started_again_for_its_next_message(ctx: RecordingContext, directory: Directory) -> None:
    say(ctx, directory, "Tidy up alpha").wait()
    assert directory.conversations.actor(KEY) is None and directory.conversations.alive() == 0
    [opened] = ctx.of_type(RequestOpened)

    say(ctx, directory, "And beta too").wait()
    # A fresh actor decided from the projection: the request is planning, so the message is queued.
    [queued] = ctx.of_type(MessageQueued)
    assert (queued.request_id, queued.position) == (opened.request_id, 1)
    assert directory.conversations.started == 2 and directory.conversations.actor(KEY) is None


def test_a_message_for_a_busy_conversation_waits_in_its_actors_mailbox(ctx: RecordingContext, directory: Directory) -> None:
    emitting, release = threading.Event(), threading.Event()
    busy: list[pykka.ActorRef[Any]] = []

    def hold_first(event: Event) -> None:
        if not busy and (ref := directory.conversations.actor(KEY)) is not None:
            busy.append(ref)
            emitting.set()
            assert release.wait(WAIT_S)

    ctx.before_emit = hold_first
    first = say(ctx, directory, "Tidy up alpha")
    assert emitting.wait(WAIT_S)
    second = say(ctx, directory, "And beta too")  # while the actor is still reacting to the first
    assert directory.conversations.actor(KEY) is busy[0]
    release.set()
    first.wait()
    second.wait()
    assert [type(e) for e in ctx.recorded if isinstance(e, (RequestOpened, MessageQueued))] == [RequestOpened, MessageQueued]
    assert directory.conversations.started == 1  # one actor handled both, then retired
    assert busy[0].actor_stopped.wait(WAIT_S) and directory.conversations.actor(KEY) is None


def test_a_message_arriving_while_its_actor_retires_gets_a_fresh_actor(ctx: RecordingContext, directory: Directory) -> None:
    # The window pykka cannot close: the actor has been asked to stop but has not ended, so a
    # `tell` would be queued behind its stop and silently dropped.
    retiring: list[pykka.ActorRef[Any]] = []

    def note_actor(event: Event) -> None:
        if not retiring and (ref := directory.conversations.actor(KEY)) is not None:
            retiring.append(ref)

    ctx.before_emit = note_actor
    hold = threading.Event()
    first = say(ctx, directory, "Tidy up alpha", Done(hold=hold))
    assert first.handled.wait(WAIT_S)  # the first actor is now frozen in `done`, its stop queued
    assert retiring[0].is_alive() and directory.conversations.actor(KEY) is None

    second = say(ctx, directory, "And beta too")
    second.wait()
    [queued] = ctx.of_type(MessageQueued)
    assert queued.position == 1 and directory.conversations.started == 2
    hold.set()
    assert retiring[0].actor_stopped.wait(WAIT_S)
    assert directory.conversations.actor(KEY) is None


def test_with_retirement_off_a_conversation_keeps_its_actor(ctx: RecordingContext, directories: list[Directory]) -> None:
    directory = Directory(ctx, retire_idle=False)
    directories.append(directory)
    say(ctx, directory, "Tidy up alpha").wait()
    say(ctx, directory, "And beta too").wait()
    kept = directory.conversations.actor(KEY)
    assert kept is not None and kept.is_alive() and directory.conversations.started == 1
    directory.stop_all()
    assert not kept.is_alive()


def test_two_directories_in_one_process_do_not_stop_each_others_actors(
    make_context: Callable[[], RecordingContext], directories: list[Directory],
) -> None:
    contexts = [make_context(), make_context()]
    first, second = (Directory(c, retire_idle=False) for c in contexts)
    directories += [first, second]
    for c, d in zip(contexts, (first, second), strict=True):
        say(c, d, "Tidy up alpha").wait()
        d.supervisor("R1", create=True)

    def actors(d: Directory) -> list[pykka.ActorRef[Any]]:
        return [d.router, d.planner, d.gate, d.permissions, d.supervisor("R1", create=False), d.conversations.actor(KEY)]  # type: ignore[list-item]

    stopped, kept = actors(first), actors(second)
    first.stop_all()
    assert not any(ref.is_alive() for ref in stopped)
    assert all(ref.is_alive() for ref in kept)
    say(contexts[1], second, "And beta too").wait()
    assert len(contexts[1].of_type(MessageQueued)) == 1


def test_after_stop_all_no_event_is_taken(ctx: RecordingContext, directory: Directory) -> None:
    # A conversation target fetched before the stop refuses too: the dispatcher must not
    # acknowledge an event nobody reacted to (it goes to the next orchestrator).
    message = Events().message(KEY, "Tidy up alpha")
    [target] = directory.targets(message)  # type: ignore[arg-type]
    directory.stop_all()
    with pytest.raises(DirectoryStopped):
        target.tell(Deliver(message, 1, Done()))  # type: ignore[arg-type]
    with pytest.raises(DirectoryStopped):
        directory.targets(message)  # type: ignore[arg-type]


def test_a_request_end_retires_its_supervisor(ctx: RecordingContext, directory: Directory) -> None:
    supervisor = directory.supervisor("R1", create=True)
    assert supervisor is not None
    directory.targets(Events().completed(KEY, "R1"))  # type: ignore[arg-type]
    assert directory.supervisor("R1", create=False) is None
    assert supervisor.actor_stopped.wait(WAIT_S)
