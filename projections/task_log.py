"""The task log: one Markdown file per request under `.tasks/<YYYY-MM-DD>/<project>/`.

Written by a projection, so it can be deleted and rebuilt from the stream byte for byte.
Retention deletes whole day folders older than the configured age (by date, not by count).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec

from events.catalogue import AnyEvent
from projections import requests as request_fold
from projections.base import Projection, write_atomically
from projections.requests import RequestState
from projections.task_log_render import relative_path, render


class TaskLog(Projection):
    """Keeps `<directory>/<date>/<project>/<time>_<label>_<request id>.md` current."""

    name = "task_log"

    def __init__(self, directory: Path, checkpoint_path: Path | None = None) -> None:
        super().__init__(checkpoint_path)
        self.directory = directory
        self.requests: dict[str, RequestState] = {}
        self._dirty: set[str] = set()

    def _apply(self, seq: int, event: AnyEvent) -> None:
        request_id = getattr(event, "request_id", None)
        if request_id is None:
            return
        request_fold.fold(self.requests, event)
        if request_id in self.requests:
            self._dirty.add(request_id)

    def path_of(self, request_id: str) -> Path | None:
        """Where the request's file is (or will be once it has a route)."""
        state = self.requests.get(request_id)
        return self.directory / relative_path(state) if state else None

    def write_outputs(self) -> None:
        """Render every request that changed since the last call."""
        still_dirty: set[str] = set()
        for request_id in sorted(self._dirty):
            state = self.requests[request_id]
            if not state.projects and state.status in ("routing",):
                still_dirty.add(request_id)  # its folder (the project) is not known yet
                continue
            path = self.directory / relative_path(state)
            data = render(state).encode("utf-8")
            if not path.exists() or path.read_bytes() != data:
                write_atomically(path, data)
        self._dirty = still_dirty

    def prune(self, today: date, retention_days: float) -> list[Path]:
        """Delete day folders older than `retention_days` before `today`; return what was deleted."""
        cutoff = today - timedelta(days=retention_days)
        removed = []
        if not self.directory.is_dir():
            return removed
        for day in sorted(self.directory.iterdir()):
            try:
                day_date = date.fromisoformat(day.name)
            except ValueError:
                continue  # not a day folder: never ours to delete
            if day.is_dir() and day_date < cutoff:
                shutil.rmtree(day)
                removed.append(day)
        return removed

    def _state(self) -> Any:
        return self.requests

    def _restore(self, raw: bytes) -> None:
        self.requests = msgspec.json.decode(raw, type=dict[str, RequestState])

    def _clear(self) -> None:
        self.requests = {}
        self._dirty = set()
        if self.directory.is_dir():
            for day in self.directory.iterdir():
                try:
                    date.fromisoformat(day.name)
                except ValueError:
                    continue
                shutil.rmtree(day)
