"""What every projection is: a fold with its stream position, persisted together."""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections.records import RecordFile


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

V = TypeVar("V")


class Checkpoint(msgspec.Struct, kw_only=True):
    """A projection's persisted state: its stream position and its state, stored together."""

    position: int
    state: msgspec.Raw


class Projection(ABC):
    """A fold over the event stream that knows the last sequence it applied.

    `apply` ignores anything at or below `position`, so redelivered events are harmless.
    `flush` persists; `reset` forgets everything (the next run rebuilds from the stream).
    """

    name: str

    def __init__(self, checkpoint_path: Path | None) -> None:
        self.position = 0
        self._checkpoint_path = checkpoint_path

    def apply(self, seq: int, event: AnyEvent) -> None:
        """Fold one stored event (a no-op if already applied)."""
        if seq <= self.position:
            return
        self._apply(seq, event)
        self.position = seq

    @abstractmethod
    def _apply(self, seq: int, event: AnyEvent) -> None: ...

    @abstractmethod
    def _state(self) -> Any:
        """The state to persist (a msgspec-encodable value)."""

    @abstractmethod
    def _restore(self, raw: bytes) -> None:
        """Restore the state persisted by `_state`."""

    @abstractmethod
    def _clear(self) -> None: ...

    def write_outputs(self) -> None:  # noqa: B027 -- optional hook: most projections write nothing
        """Write what the projection shows outside (files); called after each burst of events."""

    def load(self) -> None:
        """Restore the last checkpoint, if any."""
        if self._checkpoint_path is None or not self._checkpoint_path.exists():
            return
        checkpoint = msgspec.json.decode(self._checkpoint_path.read_bytes(), type=Checkpoint)
        self._restore(bytes(checkpoint.state))
        self.position = checkpoint.position

    def snapshot(self) -> Callable[[], None] | None:
        """Take the checkpoint's content now (on the event loop) and return the write of it, which
        may run on another thread (None: nothing to write).

        This default encodes the whole state here and rewrites one file: for small states. A
        large, keyed one is a `KeyedProjection`, which writes only what changed."""
        if self._checkpoint_path is None:
            return None
        path = self._checkpoint_path
        state = msgspec.Raw(msgspec.json.encode(self._state()))
        data = msgspec.json.encode(Checkpoint(position=self.position, state=state))
        return lambda: write_atomically(path, data)

    def checkpoint_failed(self) -> None:  # noqa: B027 -- optional hook: a whole-file checkpoint has nothing to forget
        """The write returned by the last `snapshot` failed: the next one must not rely on it."""

    def save(self) -> None:
        """Persist the state with its position (after `write_outputs`, so a crash only re-writes)."""
        write = self.snapshot()
        if write is not None:
            write()

    def reset(self) -> None:
        """Forget the state and the position, and delete the checkpoint."""
        self._clear()
        self.position = 0
        if self._checkpoint_path is not None:
            self._checkpoint_path.unlink(missing_ok=True)


class KeyedProjection(Projection, Generic[V]):
    """A projection whose state is a dict of immutable records by key (requests, sessions), with
    its checkpoint kept by record (`RecordFile`): a checkpoint writes only the keys changed since
    the one before.

    Subclasses keep the dict in `records`, call `changed(key)` for every key a fold may have
    touched, and name the record type in `record_type`. The records must be replaced, never
    mutated in place (the folds use `msgspec.structs.replace`): a snapshot holds references to
    them and is encoded on the writer's thread while the loop goes on folding.
    """

    record_type: type[V]

    def __init__(self, checkpoint_path: Path | None = None) -> None:
        super().__init__(checkpoint_path)
        self.records: dict[str, V] = {}
        self._file = RecordFile(checkpoint_path) if checkpoint_path is not None else None
        self._changed: set[str] = set()
        self._whole = True  # nothing stored yet (or unknown): the first write stores every record

    def changed(self, key: str) -> None:
        """Note that `key`'s record may differ from the one in the last checkpoint."""
        self._changed.add(key)

    def _state(self) -> Any:
        return self.records

    def _restore(self, raw: bytes) -> None:
        self.records = msgspec.json.decode(raw, type=dict[str, self.record_type])  # type: ignore[name-defined]

    def _clear(self) -> None:
        self.records = {}

    def load(self) -> None:
        """Restore the records and the position of the last checkpoint, if any."""
        if self._file is None:
            return
        stored = self._file.read()
        if stored is None:
            return
        position, rows = stored
        # One decode of one JSON object made of the stored records: far cheaper than one call per record.
        joined = b"{" + b",".join(msgspec.json.encode(key) + b":" + value for key, value in rows) + b"}"
        self._restore(joined)
        self.position = position
        self._changed = set()
        self._whole = False

    def snapshot(self) -> Callable[[], None] | None:
        """The records changed since the last snapshot (references: encoded on the writer's thread)."""
        if self._file is None:
            return None
        file, position, whole = self._file, self.position, self._whole
        keys = list(self.records) if whole else self._changed
        present = {key: self.records[key] for key in keys if key in self.records}
        removed = [key for key in keys if key not in self.records]
        self._changed, self._whole = set(), False
        encode = msgspec.json.encode

        def write() -> None:
            file.write(position, {key: encode(record) for key, record in present.items()}, removed, whole=whole)

        return write

    def checkpoint_failed(self) -> None:
        """The last write was rolled back: the next one stores every record again."""
        self._whole = True

    def reset(self) -> None:
        """Forget the records and the position, and delete the checkpoint file."""
        self._clear()
        self.position = 0
        self._changed, self._whole = set(), True
        if self._file is not None:
            self._file.delete()
