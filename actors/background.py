"""The task group every background task of an orchestrator is started in.

`async with Background("orchestrator") as background:` (or `aclose()` then `raise_failures()`,
for a composition root that closes in steps) owns the tasks started through it:

- every task is referenced until it ends, so none is garbage-collected mid-flight;
- a task's failure is logged when it happens and kept; the block's exit raises the failures as
  one `ExceptionGroup` (with the block's own exception first when it raised one);
- closing cancels the running tasks and awaits them all; tasks started with `drain=True` (short
  ones that record a fact) are let finish instead, and are still accepted while the group closes
  (a task being cancelled may record how it ended); any other new task is refused.

Unlike `asyncio.TaskGroup` (and a Trio nursery), one task's failure does not cancel the others:
the tasks are independent pieces of work (one request's agent, another request's planner, a chat's
outbox), so a failing one must not stop the rest. Failures are collected, not propagated. A place
where losing the work is the documented behaviour catches the error itself, inside its coroutine,
and says why.

A `KeyboardInterrupt`, `SystemExit` or cancellation of the block itself is re-raised as it is,
with the failures added as notes (each was logged when it happened).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_KEPT = 100
"""Failures kept for the exit (the others are counted and were logged)."""


class Background:
    """A group of independent background tasks on one event loop (see the module's docstring)."""

    def __init__(self, name: str = "background", *, stop_timeout_s: float = 15.0) -> None:
        self.name = name
        self.stop_timeout_s = stop_timeout_s
        self.failures: list[BaseException] = []
        """The failures kept so far (at most `MAX_KEPT`), oldest first."""
        self.failed = 0
        """How many tasks failed, all counted."""
        self._tasks: dict[asyncio.Task[Any], bool] = {}  # running task -> drain on close
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._closed = False

    # -- the block -------------------------------------------------------------------------

    async def __aenter__(self) -> Background:
        self.attach(asyncio.get_running_loop())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()
        self.raise_failures(exc)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind the group to `loop` (done by entering it, or by the first `start` on a loop)."""
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(f"the {self.name} task group belongs to another event loop")

    @property
    def running(self) -> set[asyncio.Task[Any]]:
        """The tasks that have not ended."""
        return set(self._tasks)

    @property
    def closed(self) -> bool:
        """Whether the group has closed (it refuses every new task)."""
        return self._closed

    # -- starting --------------------------------------------------------------------------

    def start(self, coroutine: Coroutine[Any, Any, T], *, name: str, drain: bool = False) -> asyncio.Future[T]:
        """Run `coroutine` as a task of the group (call on the loop). With `drain`, closing lets it
        finish instead of cancelling it. Once the group is closing (closed, for drained work) the
        coroutine is not run: the future returned is cancelled, as the task would have been."""
        loop = asyncio.get_running_loop()
        self.attach(loop)
        if self._closed or (self._closing and not drain):
            coroutine.close()
            log.debug("%s: not starting %s: the group is closing", self.name, name)
            refused: asyncio.Future[T] = loop.create_future()
            refused.cancel()
            return refused
        task = loop.create_task(coroutine, name=name)
        self._tasks[task] = drain
        task.add_done_callback(self._ended)
        return task

    def start_threadsafe(self, coroutine: Coroutine[Any, Any, T], *, name: str) -> concurrent.futures.Future[T]:
        """Run `coroutine` as a task of the group from another thread (an actor's); the future
        returned settles with the task."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError(f"the {self.name} task group is not attached to an event loop yet")
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def begin() -> None:
            self.start(coroutine, name=name).add_done_callback(lambda task: _settle(result, task))

        try:
            self._loop.call_soon_threadsafe(begin)
        except RuntimeError:  # the loop is closed: nothing can run it
            coroutine.close()
            raise
        return result

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)
        if task.cancelled() or (error := task.exception()) is None:
            return
        log.error("%s: background task %s failed", self.name, task.get_name(), exc_info=error)
        if all(error is not kept for kept in self.failures):  # a task that awaited a failed one fails with its exception
            error.add_note(f"(in the background task {task.get_name()!r} of the {self.name} task group)")
        self.collect(error)

    def _keep(self, error: BaseException) -> None:
        self.failed += 1
        if len(self.failures) < MAX_KEPT:
            self.failures.append(error)

    def collect(self, error: BaseException) -> None:
        """Keep a failure found while closing (a component that could not stop) for the exit; one
        the group has already (a task's failure its owner raised again on stopping) is kept once."""
        if all(error is not kept for kept in self.failures):
            self._keep(error)

    # -- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Refuse new tasks, cancel the running ones (not the drained ones) and await them all.

        A task still running `stop_timeout_s` later is cancelled (drained or not) and counted as
        a failure: it ignored its cancellation."""
        self._closing = True
        for task, drain in list(self._tasks.items()):
            if not drain:
                task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_timeout_s
        while self._tasks and (left := deadline - loop.time()) > 0:
            await asyncio.wait(list(self._tasks), timeout=left)  # again: drained work may start more
        self._closed = True
        stuck = list(self._tasks)
        for task in stuck:
            task.cancel()
            self.collect(TimeoutError(
                f"the background task {task.get_name()!r} of the {self.name} task group did not stop within "
                f"{self.stop_timeout_s:g} s of being asked to; it was cancelled again"
            ))
        if stuck:
            await asyncio.wait(stuck, timeout=1.0)

    def raise_failures(self, body: BaseException | None = None) -> None:
        """Raise the failures kept so far as one `ExceptionGroup` (after `body`, the exception the
        block raised, if any), and forget them. Returns when there are none; with a `body` that is
        not an `Exception` (an interrupt, a cancellation) it adds them to it as notes and returns,
        so the caller's exception goes on as it is."""
        kept, failed = self.failures, self.failed
        self.failures, self.failed = [], 0
        failures = [f for f in kept if f is not body]  # the block may have let a task's own failure through
        if not failures:
            return
        more = f" ({failed - len(kept)} more were logged)" if failed > len(kept) else ""
        message = f"{failed} failure(s) in the background of the {self.name} task group{more}"
        if body is not None and not isinstance(body, Exception):
            body.add_note(message + ": " + "; ".join(f"{type(f).__name__}: {f}" for f in failures))
            return
        raise BaseExceptionGroup(message, [body, *failures] if body is not None else failures)


def _settle(result: concurrent.futures.Future[T], task: asyncio.Future[T]) -> None:
    if task.cancelled():
        result.cancel()
    elif not result.set_running_or_notify_cancel():
        return  # the caller cancelled its future
    elif (error := task.exception()) is not None:
        result.set_exception(error)
    else:
        result.set_result(task.result())
