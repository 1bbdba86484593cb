"""Time and ids that tests drive by hand: a manual clock (also the timers and the monotonic
source it moves) and sequential ids. Production code never uses these (`tests/test_layers.py`).

`ManualClock` stands in for all three injected sources of time: the wall clock
(`events.ids.Clock`), the timers (`actors.ports.Timers`) and the monotonic source
(`actors.ports.Monotonic`). It moves only when `advance` is called, and `advance` runs the
callbacks that became due, in order of their time, each with the clock reading its due time. So an
expiry or a lost agent happens exactly when the test moves the clock past it, with no real waiting:

    clock = ManualClock(T0)
    async with Orchestrator(loaded, clock=clock, timers=clock, monotonic=clock.monotonic): ...
    clock.advance(ttl_s)  # the approval's expiry runs now
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from claude_tunnels.events.ids import Clock, ulid_from


@dataclass(order=True)
class ManualTimer:
    """One callback scheduled on a `ManualClock` (a `Cancellable`)."""

    when: datetime
    number: int
    callback: Callable[[], None] = field(compare=False)
    done: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        """Do not call it (if it has not run yet)."""
        self.done = True

    def fire(self) -> None:
        """Call the callback once, unless cancelled."""
        if not self.done:
            self.done = True
            self.callback()


class ManualClock:
    """A clock for tests and replays that moves only when told to; also the `Timers` it drives and,
    through `monotonic`, the `Monotonic` source (seconds since `start`).

    Timers may be set from any thread (an actor's). Due callbacks run in the thread that calls
    `advance` (a test on the loop, which is where production timers run them); a timer set for a
    time the clock has reached already runs at once, in the thread that sets it, as a loop would
    run it at its next turn.
    """

    def __init__(self, start: datetime) -> None:
        self._start = self._now = start
        self._due: list[ManualTimer] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The time the clock reads."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds since `start` (the `Monotonic` source: it moves with the clock)."""
        return (self.now() - self._start).total_seconds()

    def call_at(self, when: datetime, callback: Callable[[], None]) -> ManualTimer:
        """Call `callback` once the clock reads `when` (now, if it does already)."""
        with self._lock:
            timer = ManualTimer(when, next(self._numbers), callback)
            if when > self._now:
                heapq.heappush(self._due, timer)
                return timer
        timer.fire()
        return timer

    def call_after(self, seconds: float, callback: Callable[[], None]) -> ManualTimer:
        """Call `callback` once the clock has moved `seconds` on."""
        return self.call_at(self.now() + timedelta(seconds=seconds), callback)

    def pending(self) -> list[datetime]:
        """When the timers not run nor cancelled yet are due, earliest first."""
        with self._lock:
            return sorted(timer.when for timer in self._due if not timer.done)

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` forward, running each timer that comes due on the way, in order
        (by time, then by when it was set), with the clock reading that timer's time."""
        if seconds < 0:
            raise ValueError(f"a manual clock only moves forward; got advance({seconds})")
        with self._lock:
            target = self._now + timedelta(seconds=seconds)
        while True:
            with self._lock:
                if not self._due or self._due[0].when > target:
                    self._now = target
                    return
                timer = heapq.heappop(self._due)
                self._now = timer.when
            timer.fire()


class SequentialIds:
    """Deterministic ids for tests: ULIDs whose time comes from a clock and entropy from a counter."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counter = 0
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            self._counter += 1
            ms = int(self._clock.now().timestamp() * 1000)
            return ulid_from(ms, self._counter)
