"""The shape of every actor here: events are delivered to it, it reacts by recording events.

A `Deliver` carries one stored event and a `done` callback; the dispatcher acknowledges the
event to JetStream only after `done`, so a crash mid-reaction means redelivery, not loss.
Reactions are idempotent: each actor checks the projections before acting again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pykka

from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.ports import Cancellable
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.log import AppendConflict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deliver:
    """One stored event for an actor; `done(error)` tells the dispatcher the reaction is recorded."""

    event: AnyEvent
    seq: int
    done: Callable[[BaseException | None], None]


class Target(Protocol):
    """Where a `Deliver` goes: an actor's ref, or a conversation (whose actor may be started for it)."""

    def tell(self, message: Any) -> None:
        """Queue `message` (pykka's `ActorDeadError` when the actor has ended)."""


class EventActor(pykka.ThreadingActor):
    """Base of the orchestrator's actors: `handle(event, seq)` runs in the actor's own thread."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__()
        self.ctx = ctx

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            try:
                self.handle(message.event, message.seq)
            except AppendConflict as err:
                # Someone extended the session first: the dispatcher delivers the event again on
                # the fresh state. Expected when messages come close together, so not a failure.
                log.debug("%s: %s changed meanwhile, deciding again: %s", type(self).__name__, message.event.session_key, err)
                message.done(err)
            except Exception as err:
                log.exception("%s failed on %s", type(self).__name__, message.event.type)
                message.done(err)
            else:
                message.done(None)
            return None
        return self.on_message(message)

    def handle(self, event: AnyEvent, seq: int) -> None:
        """React to one event (record what follows from it)."""

    def on_message(self, message: Any) -> Any:
        """React to a direct message (timers, internal commands)."""
        raise TypeError(f"{type(self).__name__} got an unexpected message {message!r}")

    def remind_at(self, when: datetime, message: Any) -> Cancellable:
        """Have `message` told to this actor once the clock reads `when` (the injected timers, so a
        manual clock decides when); nothing happens if the actor has stopped by then. The timer
        returned calls it off (a reminder nobody needs holds memory until it is due)."""
        ref = self.actor_ref

        def remind() -> None:
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                pass  # stopped with its orchestrator: the next one re-arms what is still pending

        return self.ctx.timers.call_at(when, remind)
