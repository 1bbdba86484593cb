"""Fixtures of the remote-agent tests: a nats-server with authorization, agent identities, a stand-in orchestrator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from tests.helpers.remote import (
    AgentIdentity,
    StandInOrchestrator,
    authorization,
    make_identity,
    orchestrator_connection,
)

API = "shop/api"  # the workspace the agent under test serves
WEB = "shop/web"  # another workspace (whose subjects the agent must not reach)


@pytest.fixture
def api_identity(tmp_path: Path) -> AgentIdentity:
    """The nkey of the agent of `shop/api`."""
    return make_identity(API, tmp_path / "keys")


@pytest.fixture
def web_identity(tmp_path: Path) -> AgentIdentity:
    """The nkey of the agent of `shop/web`."""
    return make_identity(WEB, tmp_path / "keys")


@pytest.fixture
async def auth_server(tmp_path: Path, api_identity: AgentIdentity, web_identity: AgentIdentity) -> AsyncIterator[EmbeddedNatsServer]:
    """A real nats-server whose users are the orchestrator and the two agents (nkeys, narrowed)."""
    async with EmbeddedNatsServer(tmp_path / "state", extra_config=authorization(api_identity, web_identity)) as server:
        yield server


@pytest.fixture
async def stand_in(auth_server: EmbeddedNatsServer) -> AsyncIterator[StandInOrchestrator]:
    """The orchestrator's side of the protocol, connected as the orchestrator user."""
    nc, _errors = await orchestrator_connection(auth_server.url)
    async with StandInOrchestrator(nc) as orchestrator:
        yield orchestrator
    await nc.close()


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """The folder the agent serves (with a CLAUDE.md it announces)."""
    path = tmp_path / "hosts" / "api"
    path.mkdir(parents=True)
    (path / "CLAUDE.md").write_text("# api\nThe shop's HTTP API.\n", encoding="utf-8")
    return path
