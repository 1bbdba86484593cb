"""Reading a golden folder and folding it: shared by `record.py` (writes) and `tests/test_golden.py` (checks).

A golden folder `tests/golden/<name>/` holds:

- `stream.jsonl`: one recorded event per line,
  `{"seq": n, "schema": v, "subject": "...", "event": {...the event JSON as stored...}}`;
- `sessions.json`, `requests.json`: the folded `SessionsView` / `RequestsView` states;
- `task_log/`: the Markdown files `TaskLog` wrote.

The stream is history: never rewrite it. The expectations are today's fold of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.codec import EVENTS
from claude_tunnels.projections import RequestsView, SessionsView, TaskLog

STREAM = "stream.jsonl"
SESSIONS = "sessions.json"
REQUESTS = "requests.json"
TASK_LOG = "task_log"


class Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One line of `stream.jsonl`; `event` keeps the stored bytes exactly."""

    seq: int
    schema: int
    subject: str
    event: msgspec.Raw


_line_decoder = msgspec.json.Decoder(Line)


def read_stream(folder: Path) -> list[Line]:
    """The recorded lines of a golden folder, in order."""
    raw_lines = (folder / STREAM).read_bytes().splitlines()
    return [_line_decoder.decode(raw) for raw in raw_lines if raw.strip()]


def encode_line(line: Line) -> bytes:
    """One line of `stream.jsonl` (keys in the order seq, schema, subject, event)."""
    return msgspec.json.encode(line) + b"\n"


def decode_event(line: Line) -> AnyEvent:
    """The event of one line, read by today's code (upcast from the line's schema)."""
    return EVENTS.decode(bytes(line.event), version=line.schema)


def encode_state(state: Any) -> bytes:
    """A folded state as sorted, indented JSON: stable bytes that diff well."""
    return msgspec.json.format(msgspec.json.encode(state, order="sorted"), indent=2) + b"\n"


@dataclass
class Folded:
    """What folding a stream produced: the two states as bytes, the task log in `task_log_dir`."""

    sessions: bytes
    requests: bytes
    task_log_dir: Path


def views(task_log_dir: Path) -> tuple[SessionsView, RequestsView, TaskLog]:
    """Fresh projections (no checkpoints), the task log written under `task_log_dir`."""
    return SessionsView(), RequestsView(), TaskLog(task_log_dir)


def outputs(sessions: SessionsView, requests: RequestsView, log: TaskLog) -> Folded:
    """Write the task log and encode both states."""
    log.write_outputs()
    return Folded(encode_state(sessions.sessions), encode_state(requests.requests), log.directory)


def fold(events: list[tuple[int, AnyEvent]], task_log_dir: Path) -> Folded:
    """Fold `(seq, event)` pairs into fresh projections, the way the runner does."""
    projections = views(task_log_dir)
    for seq, event in events:
        for projection in projections:
            projection.apply(seq, event)
    return outputs(*projections)


def task_log_files(directory: Path) -> dict[str, bytes]:
    """Every file under a task log directory, by POSIX path relative to it."""
    if not directory.is_dir():
        return {}
    return {path.relative_to(directory).as_posix(): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}
