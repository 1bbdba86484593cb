"""The dashboard as something that runs: `async with Dashboard(...) as dashboard:` serves on
`dashboard.url` until the block exits (then its streams end and the site closes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from claude_tunnels.config.settings import DashboardSettings
from claude_tunnels.events.ids import Clock
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.dashboard.app import build_app
from claude_tunnels.tunnels.dashboard.auth import Auth, split_bind
from claude_tunnels.tunnels.dashboard.service import DashboardService, Poster
from claude_tunnels.tunnels.errors import UserError

log = logging.getLogger(__name__)


class Dashboard:
    """The web dashboard, its API and `/metrics` over one event store."""

    def __init__(
        self, settings: DashboardSettings, store: EventStore, poster: Poster, clock: Clock,
        presence: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.auth = Auth(settings)  # refuses an open, non-loopback bind before anything starts
        self.settings = settings
        self.service = DashboardService(store, poster, clock, presence)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Dashboard:
        await self.service.__aenter__()
        try:
            self._runner = web.AppRunner(build_app(self.service, self.auth), access_log=None, shutdown_timeout=2.0)
            await self._runner.setup()
            host, port = split_bind(self.settings.bind)
            site = web.TCPSite(self._runner, host, port)
            try:
                await site.start()
            except OSError as err:
                raise UserError(f"dashboard.bind {self.settings.bind}: cannot listen ({err.strerror}); pick another port") from None
            bound = self._runner.addresses[0]
            self.url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
            log.info("dashboard on %s", self.url)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.service.hub.stop()  # the event streams end first, so the site closes at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.service.__aexit__(exc_type, exc, tb)
