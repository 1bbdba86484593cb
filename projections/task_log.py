"""The task log: one Markdown file per request under `.tasks/<YYYY-MM-DD>/<project>/`, the same
file under each project the request touches (a request planned across web-app and infra is in
both folders, whole: whoever reads either project's log sees it all).

Written by a projection, so it can be deleted and rebuilt from the stream byte for byte. A copy
under a project the request no longer touches (a revised plan dropped it) is removed.
Retention deletes whole day folders older than the configured age (by date, not by count).
"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections.base import Projection, write_atomically
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.task_log_render import relative_path, relative_paths, render, stale_paths
from claude_tunnels.projections.views import RequestsView


def _write_if_changed(path: Path, data: bytes) -> None:
    # A new file is created in place (one system call; a half-written one after a crash is found
    # different and replaced atomically when the request is rendered again on restart).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if path.read_bytes() != data:
            write_atomically(path, data)
        return
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class TaskLog(Projection):
    """Keeps `<directory>/<date>/<project>/<time>_<label>_<request id>.md` current, under each
    project a request touches.

    It renders the requests view: pass the `RequestsView` the runner already folds (`requests=`)
    so each event is folded once; without one it folds its own.
    """

    name = "task_log"

    def __init__(self, directory: Path, checkpoint_path: Path | None = None, *, requests: RequestsView | None = None) -> None:
        super().__init__(checkpoint_path)
        self.directory = directory
        self._shared = requests is not None
        self.view = requests if requests is not None else RequestsView()
        self._dirty: set[str] = set()
        self._folders: set[Path] = set()
        self._removed: set[PurePosixPath] = set()

    @property
    def requests(self) -> dict[str, RequestState]:
        """The requests this log renders."""
        return self.view.requests

    def _apply(self, seq: int, event: AnyEvent) -> None:
        request_id = getattr(event, "request_id", None)
        if request_id is None:
            return
        if not self._shared:
            self.view.apply(seq, event)
        if request_id in self.view.requests:  # folded just now (a request out of memory is brought back first)
            self._dirty.add(request_id)

    def path_of(self, request_id: str) -> Path | None:
        """Where the request's file is (or will be once it has a route), under the first project
        it touches."""
        state = self.view.get(request_id)
        return self.directory / relative_path(state) if state else None

    def paths_of(self, request_id: str) -> list[Path]:
        """Every copy of the request's file: one under each project it touches."""
        state = self.view.get(request_id)
        return [self.directory / path for path in relative_paths(state)] if state else []

    def write_outputs(self) -> None:
        """Render every request that changed since the last call."""
        still_dirty: set[str] = set()
        for request_id in sorted(self._dirty):
            state = self.view.get(request_id)
            if state is None:
                continue
            if not state.projects and state.status in ("routing",):
                still_dirty.add(request_id)  # its folder (the project) is not known yet
                continue
            data = render(state).encode("utf-8")
            for relative in relative_paths(state):
                path = self.directory / relative
                if path.parent not in self._folders:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._folders.add(path.parent)
                _write_if_changed(path, data)
                self._removed.discard(relative)
            for relative in stale_paths(state):
                if relative not in self._removed:  # once, until a later plan touches that project again
                    (self.directory / relative).unlink(missing_ok=True)
                    self._removed.add(relative)
        self._dirty = still_dirty

    def prune(self, today: date, retention_days: float) -> list[Path]:
        """Delete day folders older than `retention_days` before `today`; return what was deleted."""
        cutoff = today - timedelta(days=retention_days)
        removed: list[Path] = []
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
        return {} if self._shared else self.view.requests

    def _restore(self, raw: bytes) -> None:
        if not self._shared:
            self.view.requests = msgspec.json.decode(raw, type=dict[str, RequestState])

    def _clear(self) -> None:
        if not self._shared:
            self.view.reset()
        self._dirty = set()
        self._folders = set()
        self._removed = set()
        if self.directory.is_dir():
            for day in self.directory.iterdir():
                try:
                    date.fromisoformat(day.name)
                except ValueError:
                    continue
                shutil.rmtree(day)
