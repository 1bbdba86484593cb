"""Sending reports to the orchestrator in order, each until it is answered.

A report is a NATS request to the workspace's `.out` subject. Until the orchestrator answers
(it may be restarting, the connection may be cut), the same report is sent again with a growing
pause; the orchestrator ignores a report it already recorded. An answer other than `ok` is
final: the orchestrator refused the report, sending it again would not help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from claude_tunnels.remote_agent.ports import Link
from claude_tunnels.remote_agent.protocol import ENCODER, AgentReport, Progressed

log = logging.getLogger(__name__)

_FIRST_PAUSE_S = 0.1
_MAX_PAUSE_S = 5.0
_ANSWER_TIMEOUT_S = 2.0


class ReportSender:
    """`async with ReportSender(link) as reports:` then `reports.send(...)`, `reports.progress(...)`."""

    def __init__(
        self, link: Link, *, progress_interval_s: float, on_answered: Callable[[AgentReport], None] | None = None,
    ) -> None:
        self.link = link
        self.on_answered = on_answered
        """Called with each report once the orchestrator answered it (accepted or refused)."""
        self.progress_interval_s = progress_interval_s
        self.refused: list[tuple[AgentReport, str]] = []
        """Reports the orchestrator answered with an error, and its answer."""
        self._queue: deque[AgentReport] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_progress: dict[str, float] = {}
        self._worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ReportSender:
        self._worker = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._worker is not None:
            while not self._worker.done():  # nats-py's request may swallow one cancellation
                self._worker.cancel()
                await asyncio.wait({self._worker}, timeout=1.0)
            if not self._worker.cancelled() and self._worker.exception() is not None:
                raise self._worker.exception()  # type: ignore[misc]

    def send(self, report: AgentReport) -> None:
        """Queue a report (sent after every report queued before it)."""
        self._queue.append(report)
        self._idle.clear()
        self._wake.set()

    def progress(self, task_id: str, kind: str, detail: str) -> None:
        """Queue a progress report, at most one per `progress_interval_s` for a task."""
        now = time.monotonic()
        if now - self._last_progress.get(task_id, float("-inf")) < self.progress_interval_s:
            return
        self._last_progress[task_id] = now
        report = Progressed(task_id=task_id, kind="tool" if kind == "tool" else "text", detail=detail)
        if self._queue and isinstance(self._queue[-1], Progressed) and self._queue[-1].task_id == task_id:
            self._queue[-1] = report  # still unsent (the orchestrator is away): keep the newest only
            return
        self.send(report)

    def forget(self, task_id: str) -> None:
        """The task is over: drop its throttling state."""
        self._last_progress.pop(task_id, None)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until every queued report was answered; False if `timeout_s` passed first."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    @property
    def pending(self) -> int:
        """Reports not answered yet."""
        return len(self._queue)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            report = self._queue[0]
            answer = await self._deliver(report)
            if self._queue and self._queue[0] is report:
                self._queue.popleft()
            if self.on_answered is not None:
                self.on_answered(report)
            if answer != b"ok":
                text = answer.decode(errors="replace")
                log.warning("the orchestrator refused a %s report of task %s: %s", type(report).__name__, report.task_id, text)
                self.refused.append((report, text))

    async def _deliver(self, report: AgentReport) -> bytes:
        data = ENCODER.encode(report)
        pause = _FIRST_PAUSE_S
        while True:
            answer = await self.link.report(data, _ANSWER_TIMEOUT_S)
            if answer is not None:
                return answer
            log.info("no answer to a %s report of task %s yet; retrying in %.1f s", type(report).__name__, report.task_id, pause)
            await asyncio.sleep(pause)  # a retry pause, not a synchronisation
            pause = min(pause * 2, _MAX_PAUSE_S)
