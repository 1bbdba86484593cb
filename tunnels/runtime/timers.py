"""The production `Timers` (`actors.ports`): callbacks on the asyncio loop, due by the injected clock.

Actors run on pykka threads, so a timer is handed to the loop with `call_soon_threadsafe` and
armed there; its callback runs on the loop. `call_at` is measured by the clock it is given: when
the loop wakes it, it reads the clock again and waits on while the clock is still short of `when`
(the wall clock was set back), so a timer never fires before its time on that clock.
`call_after` is a plain delay on the loop's monotonic time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime

from claude_tunnels.events.ids import Clock


class _LoopTimer:
    """One scheduled callback: `cancel` may come from any thread, the rest runs on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._lock = threading.Lock()
        self._cancelled = False
        self._handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        """Do not call it (if it has not run yet)."""
        with self._lock:
            self._cancelled = True
            handle, self._handle = self._handle, None
        if handle is not None:
            self._loop.call_soon_threadsafe(handle.cancel)

    def later(self, delay: float, then: Callable[[], None]) -> None:
        """Run `then` after `delay` seconds of the loop's time (on the loop), unless cancelled."""
        with self._lock:
            if not self._cancelled:
                self._handle = self._loop.call_later(delay, then)

    def fire(self) -> None:
        """Call the callback, unless cancelled (on the loop)."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled, self._handle = True, None
        self._callback()


class LoopTimers:
    """`Timers` on `loop`, with `call_at` measured by `clock`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Clock) -> None:
        self._loop = loop
        self._clock = clock

    def call_at(self, when: datetime, callback: Callable[[], None]) -> _LoopTimer:
        """Call `callback` on the loop once the clock reads `when` or later."""
        timer = _LoopTimer(self._loop, callback)
        self._loop.call_soon_threadsafe(self._arm_at, timer, when)
        return timer

    def call_after(self, seconds: float, callback: Callable[[], None]) -> _LoopTimer:
        """Call `callback` on the loop after `seconds` of the loop's (monotonic) time."""
        timer = _LoopTimer(self._loop, callback)
        self._loop.call_soon_threadsafe(timer.later, max(0.0, seconds), timer.fire)
        return timer

    def _arm_at(self, timer: _LoopTimer, when: datetime) -> None:
        delay = (when - self._clock.now()).total_seconds()
        if delay <= 0:
            timer.fire()
        else:  # woken early (the wall clock went back, or the loop's resolution): wait again
            timer.later(delay, lambda: self._arm_at(timer, when))
