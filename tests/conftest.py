"""Shared fixtures: a real nats-server per test (free port, temporary store)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect

# The Slack SDK reads proxy variables and ignores NO_PROXY; tests only talk to 127.0.0.1.
for _name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNatsServer]:
    """A real nats-server with JetStream on a free loopback port and a temporary store."""
    async with EmbeddedNatsServer(tmp_path / "state") as server:
        yield server


@pytest.fixture
async def store(nats_server: EmbeddedNatsServer) -> AsyncIterator[EventStore]:
    """An event store on the test's server, streams created."""
    nc = await connect(nats_server.connect_options("test"))
    store = EventStore(nc, Layout())
    await store.ensure()
    yield store
    await nc.close()


# Fixtures of the tests that run the real Claude Code CLI against the scripted model.
from tests.conftest_claude import agent_spec, live_processes, scripted_model, workspace  # noqa: E402,F401
