"""The tasks this workspace's agent started and finished, kept on disk across restarts.

A task is written here (and synced) before it starts, and marked finished once the orchestrator
answered its `Finished` report. So a task delivered again is never run twice, and a task that was
running when the agent died (a crash, SIGKILL, a reboot) is reported `interrupted` by the next
agent instead of staying "running" at the orchestrator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

_KEEP = 1000


class TaskLedger:
    """`task_id in ledger`; `start(task_id)` before running it, `finish(task_id)` once reported."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._started: dict[str, bool] = {}  # task id -> finished; insertion order = start order
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            kind, _, task_id = line.partition(" ")
            if kind == "start" and task_id:
                self._started[task_id] = False
            elif kind == "end" and task_id in self._started:
                self._started[task_id] = True
        if len(self._started) > _KEEP:  # compact: keep the newest ids only
            for task_id in list(self._started)[: len(self._started) - _KEEP]:
                del self._started[task_id]
            path.write_text("".join(self._lines()), encoding="utf-8")

    def _lines(self) -> Iterator[str]:
        for task_id, finished in self._started.items():
            yield f"start {task_id}\n"
            if finished:
                yield f"end {task_id}\n"

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._started

    def unfinished(self) -> list[str]:
        """Tasks started but never reported finished (the agent died while running them)."""
        return [task_id for task_id, finished in self._started.items() if not finished]

    def start(self, task_id: str) -> None:
        """Record that `task_id` starts (synced to disk before this returns)."""
        self._started[task_id] = False
        self._append(f"start {task_id}\n")

    def finish(self, task_id: str) -> None:
        """Record that the orchestrator has the task's outcome."""
        if self._started.get(task_id) is False:
            self._started[task_id] = True
            self._append(f"end {task_id}\n")

    def _append(self, line: str) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
