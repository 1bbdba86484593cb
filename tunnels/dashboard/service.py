"""What the web pages and the JSON API do, apart from HTTP: read the view, follow the stream,
and act as a person would in the chat.

An action (open, answer, approve, cancel) is recorded as the `message.received` a chat message
or button would be, in the request's own conversation, with the web user's identity as its
sender: the conversation's actors decide (only the requester or an approver may approve or
cancel) exactly as for a chat. The service then waits for the first consequence of that message
on the stream (`OUTCOMES`: the approval given or refused, a notice, the request opened...), so
the caller learns what happened, not only that it was sent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from claude_tunnels.channels import api as api_channel
from claude_tunnels.channels.render import render
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import ChangesDecided
from claude_tunnels.events.conversation import (
    CancelRequested,
    ConfirmationGiven,
    ConfirmationRefused,
    MessageQueued,
    MessageReceived,
    NoticeIssued,
    PlanRevised,
    RequestOpened,
)
from claude_tunnels.events.execution import PermissionDecided, RequestCancelled
from claude_tunnels.events.ids import Clock, derived_id
from claude_tunnels.events.log import Appended, Stored
from claude_tunnels.projections.dashboard import DashboardView, RequestRow, detail_of
from claude_tunnels.projections.runner import ProjectionRunner
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.commands.events import request_timeline

OUTCOMES: tuple[type, ...] = (
    ConfirmationGiven, ConfirmationRefused, CancelRequested, RequestCancelled, NoticeIssued,
    RequestOpened, MessageQueued, PlanRevised, PermissionDecided, ChangesDecided,
)
"""The first of these caused (directly or not) by an action's message is its outcome. A plan's
cancel answers with `request.cancelled` (its `confirmation.cancelled` comes first and is passed over)."""
OUTCOME_WAIT_S = 20.0


class Poster(Protocol):
    """Records what a person said (the orchestrator's `post_message`, or `StorePoster` alone)."""

    async def post_message(
        self, *, session_key: str, channel: str, sender: str, text: str, message_ref: str, action: str | None = None,
        request_id: str | None = None, sent_at: Any = None, repo: str | None = None,
    ) -> Appended: ...


class StorePoster:
    """`post_message` for `tunnels dashboard` alone: the same event the orchestrator records."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def post_message(
        self, *, session_key: str, channel: str, sender: str, text: str, message_ref: str, action: str | None = None,
        request_id: str | None = None, sent_at: Any = None, repo: str | None = None,
    ) -> Appended:
        """Append `message.received` (the same `message_ref` is stored once)."""
        at = sent_at or self._clock.now()
        event = MessageReceived(
            id=derived_id(at, f"{channel}:{message_ref}"), at=at, session_key=session_key, request_id=request_id,
            channel=channel, sender=sender, text=text, message_ref=message_ref, action=action, repo=repo,  # type: ignore[arg-type]
        )
        return await self._store.append(event)


@dataclass(frozen=True)
class Outcome:
    """What an action led to: the event's type and text (`pending`: nothing yet within the wait)."""

    kind: str
    text: str = ""
    request_id: str | None = None
    refused: bool = False
    session_key: str = ""


class _Chain:
    """The events caused by one message, followed until one of `OUTCOMES` arrives."""

    def __init__(self, root: str) -> None:
        self.ids = {root}
        self.done: asyncio.Future[AnyEvent] = asyncio.get_running_loop().create_future()


class Hub:
    """Fans the folded events out to the open event streams (one queue each, bounded)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[int, AnyEvent] | None]] = set()

    def open(self) -> asyncio.Queue[tuple[int, AnyEvent] | None]:
        """A new stream's queue (None in it: the dashboard is stopping)."""
        queue: asyncio.Queue[tuple[int, AnyEvent] | None] = asyncio.Queue(maxsize=10_000)
        self._queues.add(queue)
        return queue

    def close(self, queue: asyncio.Queue[tuple[int, AnyEvent] | None]) -> None:
        """Forget a stream's queue."""
        self._queues.discard(queue)

    def publish(self, seq: int, event: AnyEvent) -> None:
        """Hand `event` to every stream; a stream that fell 10,000 events behind is ended."""
        for queue in list(self._queues):
            try:
                queue.put_nowait((seq, event))
            except asyncio.QueueFull:
                self._end(queue)

    def stop(self) -> None:
        """End every stream."""
        for queue in list(self._queues):
            self._end(queue)

    def _end(self, queue: asyncio.Queue[tuple[int, AnyEvent] | None]) -> None:
        self._queues.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


class DashboardService:
    """`async with DashboardService(store, poster, clock) as service:` keeps the view current."""

    def __init__(self, store: EventStore, poster: Poster, clock: Clock, presence: Callable[[], dict[str, Any]] | None = None) -> None:
        self.store = store
        self.view = DashboardView()
        self.hub = Hub()
        self.presence = presence
        """The live remote agents by workspace (in `tunnels serve`; None alone: not on the stream)."""
        self._poster = poster
        self._clock = clock
        self._chains: list[_Chain] = []
        self.outcome_wait_s = OUTCOME_WAIT_S
        """How long an action waits for its outcome before answering `pending` (202)."""
        self.runner = ProjectionRunner(store, [self.view], checkpoint_interval_s=3600.0)

    async def __aenter__(self) -> DashboardService:
        self.runner.add_listener(self._on_event)
        await self.runner.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.hub.stop()
        await self.runner.stop()

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        self.hub.publish(seq, event)
        for chain in list(self._chains):
            if event.causation_id in chain.ids:
                chain.ids.add(event.id)
                if isinstance(event, OUTCOMES) and not chain.done.done():
                    chain.done.set_result(event)

    # -- reading -------------------------------------------------------------------------

    def row(self, request_id: str) -> RequestRow | None:
        """The request's summary row."""
        return self.view.rows.get(request_id)

    async def timeline(self, request_id: str) -> list[Stored]:
        """Every stored event of the request, in stream order (as `tunnels replay` reads them)."""
        return await request_timeline(self.store, request_id)

    async def detail(self, request_id: str) -> dict[str, Any] | None:
        """The request in full: the open one from the view, an ended one folded from its events."""
        row = self.view.rows.get(request_id)
        if row is None:
            return None
        state = self.view.open.get(request_id)
        if state is not None:
            progress = self.view.progress.get(request_id, {})
        else:
            state, progress = detail_of(row, [stored.event for stored in await self.timeline(request_id)])
        return {"row": row, "request": state, "progress": progress}

    async def replies(self, session_key: str, after: int = 0) -> list[api_channel.Reply]:
        """What the orchestrator said in one conversation, after sequence `after`: its session's
        events and those of its requests (their progress and ends are on the request subjects)."""
        stored = await self.store.read(self.store.subjects.session(session_key), start_seq=after + 1)
        for row in [r for r in self.view.rows.values() if r.session_key == session_key]:
            stored += await self.store.read(self.store.subjects.request(row.request_id), start_seq=after + 1)
        stored.sort(key=lambda s: s.seq)
        return api_channel.replies(((s.seq, s.event) for s in stored), after=after)

    # -- acting --------------------------------------------------------------------------

    async def say(
        self, *, session_key: str, identity: str, text: str, action: str | None = None, request_id: str | None = None,
        repo: str | None = None, wait_s: float | None = None,
    ) -> Outcome:
        """Record what `identity` said (or pressed) in the conversation and wait for its outcome."""
        at = self._clock.now()
        ref = f"web-{uuid.uuid4().hex}"
        chain = _Chain(derived_id(at, f"{api_channel.NAME}:{ref}"))
        self._chains.append(chain)
        try:
            await self._poster.post_message(
                session_key=session_key, channel=api_channel.NAME, sender=identity, text=text, message_ref=ref, action=action,
                request_id=request_id, sent_at=at, repo=repo,
            )
            try:
                event = await asyncio.wait_for(asyncio.shield(chain.done), self.outcome_wait_s if wait_s is None else wait_s)
            except TimeoutError:
                return Outcome(kind="pending", text="recorded; nothing came of it yet", request_id=request_id, session_key=session_key)
        finally:
            self._chains.remove(chain)
        refused = isinstance(event, ConfirmationRefused) or (isinstance(event, NoticeIssued) and event.level != "info")
        return Outcome(
            kind=event.type, text=render(event) or "", request_id=getattr(event, "request_id", None) or request_id,
            refused=refused, session_key=session_key,
        )
