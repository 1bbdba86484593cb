"""What every actor is given: the clock, ids, timers, the projections, and a way to record events.

Actors run on pykka threads; NATS lives on the asyncio loop. `emit` hands an append to the loop
and waits for the server's acknowledgement (persist, then carry on); `start` hands long work
(an agent session) to the loop, where its outcome is recorded as events when it ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from config.loader import LoadedSettings
from events.base import Event
from events.ids import Clock, IdSource
from projections import RequestsView, SessionsView
from actors.ports import Advisors, EventLog, Timers, TreeSource
from actors.task_runner import TaskRunner
from events.log import Appended

log = logging.getLogger(__name__)

_EMIT_TIMEOUT_S = 30.0


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
    background: set[asyncio.Task[Any]] = field(default_factory=set)

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
        """Run `coroutine` on the loop; it records its own outcome. Failures are logged, never lost silently."""

        async def guarded() -> Any:
            task = asyncio.current_task()
            assert task is not None
            self.background.add(task)
            try:
                return await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background work %s failed", name)
                raise
            finally:
                self.background.discard(task)

        return asyncio.run_coroutine_threadsafe(guarded(), self.loop)
