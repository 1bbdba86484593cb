"""Where projections read the stream from: a port (JetStream in production, `tunnels.bus`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from claude_tunnels.events.catalogue import AnyEvent


class Subscription(Protocol):
    """Something that delivers until unsubscribed."""

    async def unsubscribe(self) -> None: ...


class EventSource(Protocol):
    """The event stream, read in order."""

    async def replay(self, apply: Callable[[int, AnyEvent], None], subject: str | None = None, *, start_seq: int = 1) -> int:
        """Call `apply(seq, event)` for each stored event from `start_seq` up to the last one
        present now; return the last sequence applied (0 if none)."""
        ...

    async def subscribe_events(self, start_seq: int, on_event: Callable[[int, AnyEvent], Awaitable[None]]) -> Subscription:
        """Call `on_event(seq, event)` for each event from `start_seq` on, as they are stored."""
        ...
