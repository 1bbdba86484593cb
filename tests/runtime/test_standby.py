"""A standby refuses at start when it cannot see the projects the active orchestrator serves
from its disk (neither the same tree mounted nor all workspaces remote)."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.actors.background import Background
from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect
from claude_tunnels.tunnels.bus.lease import Lease
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.standby import StandbyBlind, become_active, local_projects


async def test_a_standby_that_cannot_see_the_tree_refuses(tmp_path: Path, nats_server: EmbeddedNatsServer) -> None:
    shared = lay_out(tmp_path / "shared")
    projects = local_projects(load_settings(None, root=shared))
    assert projects  # the sample tree has projects on disk
    store = EventStore(await connect(nats_server.connect_options("t")), Layout())
    await store.ensure()
    active = Lease(store, ttl_s=60, holder="active", projects=projects)
    await active.acquire()

    elsewhere = tmp_path / "empty-mount"
    elsewhere.mkdir()
    with pytest.raises(StandbyBlind, match=f"{projects[0]}.* missing under {elsewhere}.*shared storage.*tunnels-agent"):
        await become_active(load_settings(None, root=elsewhere), store, Background("test"))
    await store.nc.close()
