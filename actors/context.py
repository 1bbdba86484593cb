"""What every actor is given: the clock, ids, timers, the projections, and a way to record events.

Actors run on pykka threads; NATS lives on the asyncio loop. `emit` hands an append to the loop
and waits for the server's acknowledgement (persist, then carry on); `start` hands long work
(an agent session) to the loop, as a task of the orchestrator's task group (`background`), where
its outcome is recorded as events when it ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.ports import Advisors, ChangeIntegrator, EventLog, Timers, TreeSource
from claude_tunnels.actors.task_runner import TaskRunner
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.base import Event
from claude_tunnels.events.ids import Clock, IdSource
from claude_tunnels.events.log import Appended
from claude_tunnels.projections import RequestsView, SessionsView

_EMIT_TIMEOUT_S = 180.0
"""Longer than an append waits for an unreachable event store (`tunnels.bus.store`, 120 s): an
actor whose write waits for the store to come back then simply carries on."""


@dataclass
class Recorder:
    """Appends events from the loop and remembers the highest sequence this process wrote."""

    store: EventLog
    last_seq: int = 0

    async def append(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        """Append one event (see `EventLog.append`)."""
        appended = await self.store.append(event, expected_session_seq=expected_session_seq)
        self.last_seq = max(self.last_seq, appended.seq)
        return appended


@dataclass
class ActorContext:
    """Everything an actor may touch besides its own state."""

    loop: asyncio.AbstractEventLoop
    recorder: Recorder
    settings: LoadedSettings
    clock: Clock
    ids: IdSource
    timers: Timers
    """Where an actor schedules what happens later (an expiry), due by `clock`: a test moves both by hand."""
    sessions: SessionsView
    requests: RequestsView
    tree: TreeSource
    advisors: Advisors
    tasks: TaskRunner
    background: Background = field(default_factory=Background)
    """The task group `start` runs work in (the orchestrator's: it is closed, and its failures
    raised, when the orchestrator's block exits)."""
    changes: ChangeIntegrator | None = None
    """Where requests' changes in git become request branches, merges and pull requests (None: no
    request branches are proposed)."""

    def __post_init__(self) -> None:
        self.background.attach(self.loop)

    def envelope(self, cause: Event, **fields: Any) -> dict[str, Any]:
        """The envelope of an event reacting to `cause`: new id, now, same session, caused by it."""
        return {"id": self.ids.new_id(), "at": self.clock.now(), "session_key": cause.session_key, "causation_id": cause.id, **fields}

    def emit(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        """Record `event` and wait for the acknowledgement (call from an actor thread only)."""
        future = asyncio.run_coroutine_threadsafe(
            self.recorder.append(event, expected_session_seq=expected_session_seq), self.loop
        )
        return future.result(_EMIT_TIMEOUT_S)

    def start(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> concurrent.futures.Future[Any]:
        """Run `coroutine` on the loop in the task group (call from an actor thread); it records its
        own outcome. A failure is logged at once and raised when the group's block exits."""
        return self.background.start_threadsafe(coroutine, name=name)
