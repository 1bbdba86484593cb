"""The embedded nats-server: clean start, one owner per store, restarts without losing acked events."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, StoreLocked, connect, running_server_url
from tests.factories import Events


async def test_starts_from_a_clean_state_folder_and_refuses_a_second_owner(tmp_path: Path) -> None:
    state = tmp_path / "fresh" / ".tunnels"
    async with EmbeddedNatsServer(state) as server:
        assert server.url.startswith("nats://127.0.0.1:")
        assert (state / "nats" / "store").is_dir()
        assert running_server_url(state) == server.url
        with pytest.raises(StoreLocked, match="already runs the embedded NATS server"):
            await EmbeddedNatsServer(state).start()
    assert running_server_url(state) is None
    async with EmbeddedNatsServer(state):  # released: a new owner may start
        pass


async def test_events_survive_a_server_restart_and_the_client_reconnects(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / ".tunnels")
    await server.start()
    nc = await connect(server.connect_options())
    try:
        store = EventStore(nc)
        await store.ensure()
        ev = Events()
        before = [ev.message("s:1", f"before {n}") for n in range(50)]
        for event in before:
            await store.append(event)
        await server.stop()
        await server.start()  # same port, same store
        after = [ev.message("s:1", f"after {n}") for n in range(50)]
        for event in after:
            await store.append(event)  # waits through the reconnect
        assert [s.event for s in await store.read()] == before + after
    finally:
        await nc.close()
        await server.stop()
