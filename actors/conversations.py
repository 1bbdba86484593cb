"""The conversations' actors: started on a conversation's next event, retired as soon as it is idle.

A conversation's state is the `SessionState` in the sessions projection; its `ChannelSession`
keeps only its key. So an actor need not outlive its work: one is started when an event for the
conversation is delivered and stopped ("retired") once everything queued for it has been handled.
A thousand conversations waiting for a plan approval then hold no thread at all.

The race to rule out is an event arriving while its conversation's actor retires. pykka raises
`ActorDeadError` on a `tell` to a stopped actor, and silently drops a message told between the
stop request and the actor's end (no `done` would ever come: the dispatcher would wait forever).
So queuing an event on the conversation's actor (`deliver`) and deciding to retire that actor
(after each handled delivery) both happen under one lock, and an actor is retired only when no
delivery queued on it is unhandled: an event either joins the mailbox of an actor that is not
retiring, or starts a fresh actor. A retiring actor's stop is the last message it ever gets.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

import pykka

from claude_tunnels.actors.base import Deliver
from claude_tunnels.actors.channel_session import ChannelSession
from claude_tunnels.actors.context import ActorContext


class DirectoryStopped(RuntimeError):
    """The orchestrator's actors have been stopped: nothing reacts, so the event must not be
    acknowledged (it is delivered again, to the next orchestrator)."""


@dataclass(eq=False)
class _Live:
    ref: pykka.ActorRef[ChannelSession]
    queued: int = 0
    """Deliveries queued on the actor and not handled yet (the actor is retired at 0)."""


class Conversation:
    """The delivery target of one conversation (its actor is started when something is told)."""

    def __init__(self, conversations: Conversations, key: str) -> None:
        self._conversations = conversations
        self.key = key

    def tell(self, message: Any) -> None:
        """Queue a `Deliver` on the conversation's actor, starting one if it has none."""
        self._conversations.deliver(self.key, message)

    def __repr__(self) -> str:
        return f"Conversation({self.key!r})"


class Conversations:
    """One `ChannelSession` per conversation while it has work; `retire_idle=False` keeps each one
    until `stop_all` (a thread per conversation ever seen)."""

    def __init__(self, ctx: ActorContext, *, retire_idle: bool = True) -> None:
        self._ctx = ctx
        self._retire_idle = retire_idle
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._retiring: list[pykka.ActorRef[ChannelSession]] = []
        self._stopped = False
        self.started = 0
        """How many conversation actors were started so far (a figure for tests and benchmarks)."""

    def target(self, key: str) -> Conversation:
        """Where the conversation's events go (nothing is started until one is delivered)."""
        return Conversation(self, key)

    def actor(self, key: str) -> pykka.ActorRef[ChannelSession] | None:
        """The conversation's actor if it has one now (None once it is retired)."""
        with self._lock:
            live = self._live.get(key)
            return live.ref if live is not None else None

    def alive(self) -> int:
        """How many conversations have an actor now."""
        with self._lock:
            return len(self._live)

    def deliver(self, key: str, message: Deliver) -> None:
        """Queue `message` on the conversation's actor (a fresh one if it has none or it ended)."""
        with self._lock:
            if self._stopped:
                raise DirectoryStopped(
                    f"the actors have stopped; {message.event.type} {message.event.id} is left unacknowledged for the next orchestrator"
                )
            live = self._live.get(key)
            if live is None or not live.ref.is_alive():  # not alive: stopped by someone else, start afresh
                live = self._live[key] = _Live(ChannelSession.start(self._ctx, key))
                self.started += 1
            live.ref.tell(dataclasses.replace(message, done=partial(self._handled, key, live, message)))
            live.queued += 1

    def _handled(self, key: str, live: _Live, message: Deliver, error: BaseException | None) -> None:
        # On the actor's thread, right after its reaction. The retirement is decided before the
        # dispatcher hears `done`, so the next event of this conversation finds it settled.
        with self._lock:
            live.queued -= 1
            if self._retire_idle and live.queued == 0 and self._live.get(key) is live:
                del self._live[key]
                self._retiring = [ref for ref in self._retiring if ref.is_alive()]
                self._retiring.append(live.ref)
                live.ref.stop(block=False)
        message.done(error)

    def close(self) -> list[pykka.ActorRef[ChannelSession]]:
        """Refuse further deliveries; return the actors to stop (those alive and those retiring)."""
        with self._lock:
            self._stopped = True
            refs = [live.ref for live in self._live.values()] + self._retiring
            self._live.clear()
            self._retiring = []
        return refs
