"""A chat channel whose platform could not be reached at start: tried again, with backoff, in the background.

`tunnels serve` wraps such a channel in `Patient`: the orchestrator and the other channels serve
at once, while this one asks its platform again (the same check as at start: `preflight`) after
1, 2, 4 … up to 30 seconds, one log line per attempt, and starts the real channel once it
answers. A platform that answers but refuses the token ends the attempts with one error line.
Events the channel could not post meanwhile are posted when it starts (the channels post what
was recorded but never confirmed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.serving.preflight import ChannelCheck

log = logging.getLogger("claude_tunnels.tunnels.serve")

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0


class Patient:
    """Wraps `channel` (anything with `name`, `start()`, `stop()`); every other attribute is the channel's."""

    def __init__(self, channel: Any, probe: Callable[[], Awaitable[ChannelCheck]], *, first_pause_s: float = FIRST_PAUSE_S) -> None:
        self._channel = channel
        self._probe = probe
        self._first_pause_s = first_pause_s
        self._attempts: asyncio.Future[None] | None = None
        self.started = False
        """Whether the channel runs (its platform answered)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)

    async def start(self) -> None:
        """Keep trying in the orchestrator's task group; return at once."""
        self._attempts = self._channel.orchestrator.background.start(self._keep_trying(), name=f"{self._channel.name} reconnect")

    async def _keep_trying(self) -> None:
        name, pause, attempt = self._channel.name, self._first_pause_s, 1
        while True:
            await asyncio.sleep(pause)  # nothing to wait on but time: the platform may come back any moment
            attempt += 1
            try:
                check = await self._probe()
            except UserError as err:
                log.error("%s stays off: %s", name, err)
                return
            if check.reachable:
                await self._channel.start()
                self.started = True
                log.warning("%s: reachable again (attempt %d): serving it too", name, attempt)
                return
            pause = min(pause * 2, MAX_PAUSE_S)
            log.warning("%s: not reachable (attempt %d: %s); trying again in %.0f s", name, attempt, check.detail, pause)

    async def stop(self) -> None:
        """Stop trying, and stop the channel if it started."""
        attempts, self._attempts = self._attempts, None
        if attempts is not None and not attempts.done():
            attempts.cancel()
            await asyncio.wait([attempts])
        await self._channel.stop()  # safe unstarted too: it stops the outbound workers it has anyway
