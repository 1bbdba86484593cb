"""The embedded nats-server: clean start, one owner per store, restarts without losing acked events."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, StoreLocked, connect, running_server_url
from claude_tunnels.tunnels.bus.connection import BusHealth
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


async def test_a_supervised_server_that_dies_comes_back_and_an_append_made_meanwhile_is_stored_once(tmp_path: Path) -> None:
    async with EmbeddedNatsServer(tmp_path / ".tunnels", supervise=True) as server:
        health = BusHealth()
        nc = await connect(server.connect_options(), health)
        try:
            store = EventStore(nc, health=health)
            await store.ensure()
            ev = Events()
            await store.append(ev.message("s:1", "before"))
            loop = asyncio.get_running_loop()
            down, back, url, pid = loop.create_future(), health.back(), server.url, server.pid
            health.listen(lambda up: None if up or down.done() else down.set_result(None))
            os.kill(pid or 0, signal.SIGKILL)
            await asyncio.wait_for(down, 30)
            during = ev.message("s:1", "while the server was away")
            appended = await asyncio.wait_for(store.append(during), 30)  # waits for the server to come back
            await asyncio.wait_for(back, 30)
            assert (server.url, server.restarts) == (url, 1) and server.pid != pid
            texts = [s.event.text for s in await store.read()]  # type: ignore[attr-defined]
            assert texts == ["before", "while the server was away"] and appended.seq == 2
        finally:
            await nc.close()
