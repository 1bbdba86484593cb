"""What a chat channel needs of the orchestrator: a small port, not the orchestrator itself.

A channel records what people say (`post_message`), confirms what it posted (`record_reply`),
hears every event once the projections have it (`add_listener`), reads the views it renders
from, and starts its background work (outboxes, polling) in the orchestrator's task group
(`background`), so that work is cancelled and awaited, and its failures raised, when the
orchestrator stops. `tunnels.runtime.orchestrator.Orchestrator` implements it; a test can give
a channel anything else that does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Protocol, TypeVar

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.ids import Clock
from claude_tunnels.events.log import Appended, Stored
from claude_tunnels.projections import RequestsView, SessionsView

T = TypeVar("T")


class TaskStarter(Protocol):
    """A task group (`actors.background.Background`): it keeps, cancels, awaits and reports its tasks."""

    def start(self, coroutine: Coroutine[Any, Any, T], *, name: str) -> asyncio.Future[T]:
        """Run `coroutine` as a task of the group (on the loop)."""
        ...


class OrchestratorPort(Protocol):
    """The orchestrator as a channel sees it."""

    @property
    def clock(self) -> Clock: ...

    @property
    def requests(self) -> RequestsView: ...

    @property
    def sessions(self) -> SessionsView: ...

    @property
    def background(self) -> TaskStarter:
        """Where the channel starts its background tasks."""
        ...

    def add_listener(self, listener: Callable[[int, AnyEvent], None]) -> None:
        """Call `listener(seq, event)` on the loop for every event once the projections have it."""
        ...

    async def post_message(
        self, *, session_key: str, channel: str, sender: str, text: str, message_ref: str,
        sender_name: str = "", action: str | None = None, request_id: str | None = None, sent_at: datetime | None = None,
        permission_id: str | None = None, repo: str | None = None,
    ) -> Appended:
        """Record what a person said (the same `message_ref` is stored once)."""
        ...

    async def record_reply(self, replied: AnyEvent, *, channel: str, chat_ref: str) -> Appended:
        """Record that the channel posted its message for `replied`."""
        ...

    async def stored(self, seq: int) -> Stored:
        """The event stored at `seq` (LookupError once it aged out)."""
        ...
