"""The lease of the active orchestrator: one holder at a time, a standby takes over once the
holder stops renewing, the term grows, and the ex-holder's appends are refused by the server."""

from __future__ import annotations

import asyncio

import pytest

from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect
from claude_tunnels.tunnels.bus.errors import Fenced
from claude_tunnels.tunnels.bus.lease import Lease
from tests.factories import Events


async def _store(server: EmbeddedNatsServer, name: str) -> EventStore:
    store = EventStore(await connect(server.connect_options(name)), Layout())
    await store.ensure()
    return store


async def test_a_standby_takes_over_an_expired_lease_and_fences_the_old_holder(nats_server: EmbeddedNatsServer) -> None:
    events = Events()
    first_store, second_store = await _store(nats_server, "a"), await _store(nats_server, "b")
    # The first holder's clock stands still: its own check before each append always passes, as
    # for a process paused between that check and the send. Only the server can refuse it.
    first = Lease(first_store, ttl_s=0.4, holder="a", monotonic=lambda: 0.0)
    assert await first.acquire() == 1
    await first_store.append(events.message("terminal:alice", "from the first term"))

    second = Lease(second_store, ttl_s=0.4, holder="b")
    standing_by: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    renewing = asyncio.ensure_future(first.renew_forever())
    takeover = asyncio.ensure_future(second.acquire(lambda holder: standing_by.set_result(holder.holder)))
    assert await asyncio.wait_for(standing_by, 10) == "a"  # it found the lease held and waits

    renewing.cancel()  # the first one stops renewing (as if paused): the second one takes over
    assert await takeover == 2
    assert (await second.read()).holder.term == 2  # type: ignore[union-attr]
    await second_store.append(events.message("terminal:alice", "from the second term"))

    # The old holder did not notice (it was not renewing): the server refuses its append anyway.
    with pytest.raises(Fenced, match="another orchestrator took the lease over"):
        await first_store.append(events.message("terminal:alice", "late, from the first term"))
    with pytest.raises(Fenced):  # and from then on it refuses before sending
        await first_store.append(events.message("terminal:alice", "later still"))
    texts = [s.event.text for s in await second_store.read()]  # type: ignore[attr-defined]
    assert texts == ["from the first term", "from the second term"]
    assert await second_store.last_seq() == (await second_store.read())[-1].seq  # a marker is no event

    # A clean stop releases the lease: the next one takes it at once, with a greater term.
    await second.release()
    third = Lease(first_store, ttl_s=60, holder="c")
    assert await asyncio.wait_for(third.acquire(), 10) == 3
    # The stream now ends with a term marker; readers still see the last event as the last position.
    last_event = (await second_store.read())[-1].seq
    assert await second_store.last_seq() == last_event
    assert [s.seq for s in await second_store.read(start_seq=last_event)] == [last_event]
    for store in (first_store, second_store):
        await store.nc.close()


async def test_a_holder_that_misses_its_renewal_loses_the_lease(nats_server: EmbeddedNatsServer) -> None:
    store = await _store(nats_server, "a")
    now = [0.0]
    lease = Lease(store, ttl_s=0.3, holder="a", monotonic=lambda: now[0])
    await lease.acquire()
    assert lease.valid()
    now[0] = 1.0  # paused past its lease: refused before sending, even before the renewal notices
    with pytest.raises(Fenced, match="lease ran out or was taken over"):
        await store.append(Events().message("terminal:alice", "after the lease, guarded"), expected_session_seq=0)
    await asyncio.wait_for(lease.renew_forever(), 5)  # at its next renewal it gives up
    assert lease.lost.is_set() and store.fenced and not lease.valid()
    with pytest.raises(Fenced):
        await store.append(Events().message("terminal:alice", "after the lease"))
    await store.nc.close()
