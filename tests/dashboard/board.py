"""A real orchestrator (tests/e2e/world.py) with the dashboard in front of it, and its users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from claude_tunnels.config.settings import DashboardSettings
from claude_tunnels.tunnels.dashboard.auth import token_hash
from claude_tunnels.tunnels.dashboard.server import Dashboard
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.e2e.world import World, world

TOKENS = {"terminal:alice": "alice-token-0123456789", "slack:UCAROL": "carol-token-0123456789", "api:ci": "ci-token-0123456789"}
"""alice opens requests in the terminal; carol is a known web user but no approver; ci is a script."""


def two_task_plan(label: str) -> dict[str, object]:
    """The plan of `shared-lib: <label>`: the library's core, then its docs (router skipped: one project named first)."""
    return plan(label, ("shared-lib/core", f"core {label}", []), ("shared-lib/docs", f"docs {label}", ["shared-lib/core"]), match=label)


@dataclass
class Board:
    """The world, the dashboard's URL, and an HTTP client per user."""

    w: World
    url: str
    dashboard: Dashboard
    http: aiohttp.ClientSession

    def headers(self, identity: str | None) -> dict[str, str]:
        """The bearer header of `identity`'s token (none: anonymous)."""
        return {"Authorization": f"Bearer {TOKENS[identity]}"} if identity else {}


@asynccontextmanager
async def board(tmp_path: Path, *labels: str, delay_s: float = 0, users: bool = True, writes: str | None = None) -> AsyncIterator[Board]:
    """An orchestrator scripted for a two-task plan per label, and the dashboard on a free loopback port
    (`writes`: the core task writes that file)."""
    core = succeeds("shared-lib/core", "core done", delay_s=delay_s, writes=writes)
    scripts = [*map(two_task_plan, labels), core, succeeds("shared-lib/docs", "docs done")]
    async with world(tmp_path, scenario(*scripts), limits={"max_warm_agents": 0}) as w:
        settings = DashboardSettings(bind="127.0.0.1:0", users={i: token_hash(t) for i, t in TOKENS.items()} if users else {})
        o = w.orchestrator
        async with Dashboard(settings, o.store, o, o.clock, presence=o.remote.live) as dashboard, aiohttp.ClientSession() as http:
            yield Board(w, dashboard.url, dashboard, http)
