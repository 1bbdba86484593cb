"""Keeps projections current from the stream: resume from their positions, follow live, `wait()`.

The runner reads with one ordered consumer from the lowest stored position, folds each event into
every projection (each ignores what it already applied), then, after each burst of events,
writes the projections' outputs and resolves `wait(position)` callers. Checkpoints are saved at
most every `checkpoint_interval_s` and on exit: they only shorten the next start.

A checkpoint is taken on the loop (`Projection.snapshot`: what changed, by reference) and written
on one worker thread, so the loop never waits for the disk and writes land in order; while one
is being written the next waits for the following flush. A write that fails is logged and the
projection writes everything next time: the stream still holds whatever a checkpoint lacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections.base import Projection
from claude_tunnels.projections.source import EventSource

log = logging.getLogger(__name__)


class ProjectionRunner:
    """`async with ProjectionRunner(store, [views...]) as runner:` then `await runner.wait(seq)`."""

    def __init__(
        self,
        store: EventSource,
        projections: Sequence[Projection],
        *,
        checkpoint_interval_s: float = 2.0,
    ) -> None:
        self.store = store
        self.projections = list(projections)
        self.position = 0
        self._checkpoint_interval_s = checkpoint_interval_s
        self._last_checkpoint = 0.0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._flush_scheduled = False
        self._sub: Any = None
        self._failure: BaseException | None = None
        self._listeners: list[Any] = []
        self._writer: ThreadPoolExecutor | None = None
        self._writing: asyncio.Future[None] | None = None

    async def __aenter__(self) -> ProjectionRunner:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()
        if self._failure is not None and exc is None:
            raise self._failure

    def add_listener(self, listener: Any) -> None:
        """Call `listener(seq, event)` after each event is folded (on the event loop)."""
        self._listeners.append(listener)

    async def start(self, *, catch_up: bool = True) -> None:
        """Load checkpoints, catch up with the stream, then follow it live."""
        for projection in self.projections:
            projection.load()
        self.position = min((p.position for p in self.projections), default=0)
        if catch_up:
            last = await self.store.replay(self._apply, start_seq=self.position + 1)
            self.position = max(self.position, last)
            self._flush()
        self._sub = await self.store.subscribe_events(self.position + 1, self._on_event)

    async def stop(self) -> None:
        """Stop following, write outputs and save checkpoints."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:
                pass
        self._flush()
        if self._writing is not None:
            await asyncio.shield(self._writing)
        # The last checkpoint, awaited: the next start resumes from here.
        self._write_checkpoint()
        if self._writing is not None:
            await asyncio.shield(self._writing)
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        for _, future in self._waiters:
            if not future.done():
                future.cancel()

    def _apply(self, seq: int, event: AnyEvent) -> None:
        for projection in self.projections:
            projection.apply(seq, event)
        self.position = seq

    async def _on_event(self, seq: int, event: AnyEvent) -> None:
        try:
            if seq <= self.position:
                return
            self._apply(seq, event)
            for listener in self._listeners:
                listener(seq, event)
        except Exception as err:
            self._failure = err
            for _, future in self._waiters:
                if not future.done():
                    future.set_exception(err)
            return
        if not self._flush_scheduled:
            # Flush once per burst: the callback runs for every queued message before the loop
            # gets to this, so a catch-up writes each file once, not once per event.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for projection in self.projections:
            projection.write_outputs()
        now = time.monotonic()  # noqa: TID251 -- paces checkpoint files only, never what the folds decide
        if now - self._last_checkpoint >= self._checkpoint_interval_s and self._writing is None:
            self._write_checkpoint()
            self._last_checkpoint = now
        remaining = []
        for position, future in self._waiters:
            if position <= self.position:
                if not future.done():
                    future.set_result(None)
            else:
                remaining.append((position, future))
        self._waiters = remaining

    def _write_checkpoint(self) -> None:
        """Snapshot every projection here and hand the writes to the checkpoint thread."""
        writes = [(projection, write) for projection in self.projections if (write := projection.snapshot()) is not None]
        if not writes:
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        writing = asyncio.get_running_loop().run_in_executor(self._writer, _write_all, writes)
        self._writing = asyncio.ensure_future(self._written(writing, [projection for projection, _ in writes]))

    async def _written(self, writing: asyncio.Future[list[Projection]], written: list[Projection]) -> None:
        try:
            failed = await writing
        except BaseException:
            failed = written
            raise
        finally:
            self._writing = None
            # Back on the loop: each projection hears how its write went (a keyed one then lets
            # settled records go, or writes the failed ones again next time).
            for projection in written:
                if projection in failed:
                    projection.checkpoint_failed()
                else:
                    projection.checkpoint_written()

    async def wait(self, position: int, timeout: float | None = 30.0) -> None:
        """Return once every event up to `position` is folded and its outputs are written."""
        if self._failure is not None:
            raise self._failure
        if position <= self.position and not self._flush_scheduled:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((position, future))
        await asyncio.wait_for(future, timeout)


def _write_all(writes: list[tuple[Projection, Callable[[], None]]]) -> list[Projection]:
    """Run the checkpoint writes (on the checkpoint thread); return the projections whose write failed."""
    failed = []
    for projection, write in writes:
        try:
            write()
        except Exception:
            log.exception("checkpoint of %s not written (the next one writes it all)", projection.name)
            failed.append(projection)
    return failed


async def rebuild(store: EventSource, projections: Sequence[Projection]) -> int:
    """Drop the projections and fold the whole stream into them again; return the last sequence."""
    for projection in projections:
        projection.reset()

    def apply(seq: int, event: AnyEvent) -> None:
        for projection in projections:
            projection.apply(seq, event)

    last = await store.replay(apply)
    for projection in projections:
        projection.write_outputs()
        projection.save()
    return last
