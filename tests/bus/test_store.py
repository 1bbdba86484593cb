"""The event store against a real nats-server."""

from __future__ import annotations

import asyncio

import pytest

from claude_tunnels.tunnels.bus import AppendConflict, EventStore
from tests.factories import Events, two_phase_plan

S1, S2 = "slack:T1:C1:1700000000.000100", "telegram:42"
R1, R2 = "01REQ00000000000000000001", "01REQ00000000000000000002"


async def test_append_then_read_per_request_and_per_session_in_order(store: EventStore) -> None:
    ev = Events()
    appended = [
        ev.message(S1, "one"), ev.opened(S1, R1, "one"), ev.message(S2, "two"), ev.routed(S1, R1, ["shared"]),
        ev.opened(S2, R2, "two"), ev.routed(S2, R2, ["web"]), ev.proposed(S1, R1, two_phase_plan()),
    ]
    for event in appended:
        await store.append(event)
    by_request = [s.event for s in await store.read(store.subjects.request(R1))]
    assert by_request == [appended[3], appended[6]]
    by_session = [s.event for s in await store.read(store.subjects.session(S1))]
    assert by_session == [appended[0], appended[1]]
    everything = await store.read()
    assert [s.event for s in everything] == appended
    assert [s.seq for s in everything] == list(range(1, 8))


async def test_a_duplicate_append_is_stored_once(store: EventStore) -> None:
    event = Events().message(S1, "hello")
    first = await store.append(event)
    again = await store.append(event)
    assert (first.duplicate, again.duplicate, again.seq) == (False, True, first.seq)
    assert len(await store.read()) == 1


async def test_append_many_keeps_order_and_deduplicates(store: EventStore) -> None:
    ev = Events()
    events = [ev.message(f"s:{n % 3}", f"m{n}") for n in range(500)]
    results = await store.append_many(events[:300], window=64)
    results += await store.append_many(events[250:], window=64)  # 50 repeated
    assert [r.duplicate for r in results].count(True) == 50
    assert [s.event for s in await store.read()] == events


async def test_two_concurrent_writers_on_one_session_one_wins(store: EventStore) -> None:
    ev = Events()
    base = await store.append(ev.message(S1, "first"))
    a, b = ev.opened(S1, R1, "from writer a"), ev.opened(S1, R2, "from writer b")
    results = await asyncio.gather(
        store.append(a, expected_session_seq=base.seq),
        store.append(b, expected_session_seq=base.seq),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, AppendConflict)]
    assert len(conflicts) == 1
    assert "another writer" in str(conflicts[0]) and conflicts[0].session_key == S1
    assert len(await store.read(store.subjects.session(S1))) == 2


async def test_retrying_a_guarded_append_that_landed_is_a_duplicate_not_a_conflict(store: EventStore) -> None:
    ev = Events()
    event = ev.message(S1, "hi")
    first = await store.append(event, expected_session_seq=0)
    retry = await store.append(event, expected_session_seq=0)
    assert retry.duplicate and retry.seq == first.seq


async def test_guarded_appends_are_per_session(store: EventStore) -> None:
    ev = Events()
    await store.append(ev.message(S1, "a"), expected_session_seq=0)
    # Another session's history does not count against this one.
    await store.append(ev.message(S2, "b"), expected_session_seq=0)
    with pytest.raises(AppendConflict):
        await store.append(ev.message(S1, "c"), expected_session_seq=0)
    assert await store.last_seq(store.subjects.session(S2)) == 2


async def test_follow_delivers_new_events_live_from_a_position(store: EventStore) -> None:
    ev = Events()
    await store.append(ev.message(S1, "old"))
    stream = store.follow(store.subjects.session(S1), start_seq=await store.last_seq() + 1)
    reader = asyncio.ensure_future(stream.__anext__())
    new = ev.message(S1, "new")
    await store.append(ev.message(S2, "another session"))
    await store.append(new)
    assert (await asyncio.wait_for(reader, 10)).event == new
    await stream.aclose()
