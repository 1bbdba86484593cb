"""Delivering each new event to the actors that react to it, at least once, in stream order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pykka

from claude_tunnels.actors.base import Deliver, Target
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.reactions import Directory
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import NoticeIssued
from claude_tunnels.events.log import AppendConflict, Stored
from claude_tunnels.projections import ProjectionRunner

log = logging.getLogger(__name__)
_CONFLICT_RETRIES = 5


class Dispatcher:
    """Reads the durable `actors` consumer; acknowledges an event once its reactions are recorded.

    Before an event is delivered, the projections have folded it and everything this process
    wrote before it, so every actor decides on current state. A reaction refused because another
    writer extended the session first is delivered again against the fresh state.
    """

    def __init__(self, ctx: ActorContext, runner: ProjectionRunner, directory: Directory) -> None:
        self.ctx = ctx
        self.runner = runner
        self.directory = directory
        self._sub: Any = None

    async def start(self) -> None:
        """Attach to the durable consumer."""
        self._sub = await self.ctx.recorder.store.consume("actors", self._handle)

    async def stop(self) -> None:
        """Detach (unacknowledged events are redelivered to the next orchestrator)."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:
                pass

    async def _handle(self, stored: Stored) -> None:
        for _ in range(_CONFLICT_RETRIES):
            await self.runner.wait(max(stored.seq, self.ctx.recorder.last_seq))
            targets = self.directory.targets(stored.event)
            errors = await asyncio.gather(*(self._deliver(ref, stored) for ref in targets))
            if any(isinstance(err, AppendConflict) for err in errors):
                await self.runner.wait(await self.ctx.recorder.store.last_seq())
                continue
            failures = [err for err in errors if err is not None]
            if failures:
                await self._report(stored.event, failures[0])
            return
        await self._report(stored.event, RuntimeError("the session kept changing while deciding"))

    async def _deliver(self, ref: Target, stored: Stored) -> BaseException | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if not done.done():
                done.set_result(error)

        def finished(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, error)

        try:
            ref.tell(Deliver(stored.event, stored.seq, finished))
        except pykka.ActorDeadError:
            # The actor finished its work (a stopped task agent): nothing to react. A conversation
            # never gets here: its actor is started again for the event (see Conversations), and
            # once the directory has stopped, `DirectoryStopped` leaves the event unacknowledged.
            return None
        return await done

    async def _report(self, event: AnyEvent, error: BaseException) -> None:
        # The person hears one short sentence with the request id; the details go to the log.
        log.error("reaction to %s %s failed: %s", event.type, event.id, error)
        request_id = getattr(event, "request_id", None)
        about = f" (request {request_id})" if request_id else ""
        await self.ctx.recorder.append(NoticeIssued(
            id=self.ctx.ids.new_id(), at=self.ctx.clock.now(), session_key=event.session_key, causation_id=event.id,
            request_id=request_id, level="error", text=f"Something went wrong{about}; the details are in the orchestrator's log.",
        ))
