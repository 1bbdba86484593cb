"""Timers (`actors.ports.Timers`): the loop adapter production runs on, and the manual double tests drive."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest

from claude_tunnels.tunnels.runtime.timers import LoopTimers
from tests.clocks import ManualClock
from tests.factories import T0

# -- the manual double ------------------------------------------------------------------------


def test_advancing_the_manual_clock_runs_the_due_timers_in_order_each_at_its_time() -> None:
    clock = ManualClock(T0)
    ran: list[tuple[str, datetime, float]] = []

    def note(name: str) -> None:
        ran.append((name, clock.now(), clock.monotonic()))

    clock.call_after(30, lambda: note("b"))
    clock.call_at(T0 + timedelta(seconds=10), lambda: note("a"))
    clock.call_at(T0 + timedelta(seconds=30), lambda: note("c"))  # same time as b, set after it
    clock.call_at(T0 + timedelta(seconds=31), lambda: note("d"))
    clock.advance(9.999)
    assert ran == [] and clock.pending() == [T0 + timedelta(seconds=s) for s in (10, 30, 30, 31)]
    clock.advance(0.001)
    assert ran == [("a", T0 + timedelta(seconds=10), 10.0)]
    clock.advance(20.5)
    assert [name for name, _, _ in ran] == ["a", "b", "c"] and ran[1][1] == ran[2][1] == T0 + timedelta(seconds=30)
    assert clock.now() == T0 + timedelta(seconds=30.5) and clock.pending() == [T0 + timedelta(seconds=31)]


def test_a_timer_set_by_a_due_timer_runs_in_the_same_advance_when_its_time_comes_too() -> None:
    clock = ManualClock(T0)
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(clock.monotonic())
        clock.call_after(1, tick)

    clock.call_after(1, tick)
    clock.advance(3.5)
    assert ticks == [1.0, 2.0, 3.0] and clock.monotonic() == 3.5


def test_a_cancelled_timer_never_runs_and_a_past_one_runs_at_once() -> None:
    clock = ManualClock(T0)
    ran: list[str] = []
    clock.call_after(5, lambda: ran.append("cancelled")).cancel()
    clock.call_at(T0 - timedelta(seconds=1), lambda: ran.append("past"))
    assert ran == ["past"]
    clock.advance(10)
    assert ran == ["past"] and clock.pending() == []
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_timers_set_from_other_threads_run_when_the_clock_reaches_them() -> None:
    clock = ManualClock(T0)
    ran: list[int] = []
    threads = [threading.Thread(target=clock.call_after, args=(n, lambda n=n: ran.append(n))) for n in (3, 1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.advance(3)
    assert ran == [1, 2, 3]


# -- the loop adapter -------------------------------------------------------------------------


class _Readings:
    """A clock that reads the given times one after the other (then the last one forever)."""

    def __init__(self, *readings: datetime) -> None:
        self.readings = list(readings)
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


async def test_a_loop_timer_set_from_an_actor_thread_runs_on_the_loop() -> None:
    loop = asyncio.get_running_loop()
    timers = LoopTimers(loop, ManualClock(T0))
    fired: asyncio.Future[int] = loop.create_future()

    def set_timer() -> None:
        timers.call_at(T0, lambda: fired.set_result(threading.get_ident()))

    thread = threading.Thread(target=set_timer)
    thread.start()
    thread.join()
    assert await asyncio.wait_for(fired, 10) == threading.get_ident()


async def test_a_loop_timer_woken_before_its_clock_reads_its_time_waits_again() -> None:
    # The wall clock was set back while it waited: it fires only once the clock reads `when`.
    when = T0 + timedelta(seconds=60)
    clock = _Readings(when - timedelta(seconds=0.05), when - timedelta(seconds=0.02), when)
    loop = asyncio.get_running_loop()
    fired: asyncio.Future[datetime] = loop.create_future()
    LoopTimers(loop, clock).call_at(when, lambda: fired.set_result(clock.readings[0]))
    assert await asyncio.wait_for(fired, 10) == when
    assert clock.reads == 3


async def test_a_cancelled_loop_timer_never_runs() -> None:
    loop = asyncio.get_running_loop()
    timers = LoopTimers(loop, ManualClock(T0))
    ran: list[str] = []
    timers.call_at(T0, lambda: ran.append("cancelled before it was armed")).cancel()
    armed = timers.call_after(0.2, lambda: ran.append("cancelled once armed"))
    timers.call_after(0, armed.cancel)  # armed in the same turn of the loop, due long before it
    later: asyncio.Future[None] = loop.create_future()
    timers.call_after(0.2, lambda: later.set_result(None))  # due after `armed`: it would have run first
    await asyncio.wait_for(later, 10)
    assert ran == []
