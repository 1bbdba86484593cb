"""What every projection is: a fold with its stream position, persisted together."""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
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

    def checkpoint_written(self) -> None:  # noqa: B027 -- optional hook: a whole-file checkpoint needs nothing after
        """The write returned by the last `snapshot` is on disk."""

    def save(self) -> None:
        """Persist the state with its position (after `write_outputs`, so a crash only re-writes)."""
        write = self.snapshot()
        if write is not None:
            try:
                write()
            except BaseException:
                self.checkpoint_failed()
                raise
            self.checkpoint_written()

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

    Records that are `_settled` (a finished request) leave memory once a checkpoint holding them
    is written, all but the `keep_settled` most recently changed: `get` then reads them from the
    file, and a fold that touches one again (`record`) brings it back. Without a file, or with
    `keep_settled=None`, every record stays in memory.
    """

    record_type: type[V]
    keep_settled: int | None = None
    """How many settled records stay in memory (None: all of them)."""

    def __init__(self, checkpoint_path: Path | None = None) -> None:
        super().__init__(checkpoint_path)
        self.records: dict[str, V] = {}
        self._file = RecordFile(checkpoint_path) if checkpoint_path is not None else None
        self._changed: set[str] = set()
        self._whole = True  # nothing stored yet (or unknown): the first write stores every record
        self._writing: tuple[set[str], bool] | None = None
        """The keys (and `whole`) of the snapshot being written, until it is known written or failed."""
        self._settled_order: dict[str, None] = {}
        """The settled records in memory, least recently changed first."""

    def _settled(self, record: V) -> bool:
        """Whether `record` may leave memory (it changes no more, or rarely). Subclasses say."""
        return False

    def changed(self, key: str) -> None:
        """Note that `key`'s record may differ from the one in the last checkpoint."""
        self._changed.add(key)
        self._settled_order.pop(key, None)
        record = self.records.get(key)
        if record is not None and self._settled(record):
            self._settled_order[key] = None

    def record(self, key: str) -> V | None:
        """The record of `key`: in memory, else the stored one brought back into memory (for a fold)."""
        found = self.lookup(key)
        if found is not None:
            self.records.setdefault(key, found)
        return found

    def stored(self, key: str) -> V | None:
        """The record of `key` in the checkpoint file, if any (any thread; memory is not consulted)."""
        raw = self._file.get(key) if self._file is not None and key else None
        return None if raw is None else msgspec.json.decode(raw, type=self.record_type)

    def lookup(self, key: str) -> V | None:
        """The record of `key`, in memory or else in the file (any thread; never changes memory)."""
        found = self.records.get(key)
        if found is None and self.keep_settled is not None:
            return self.stored(key)
        return found

    def every(self) -> Iterator[tuple[str, V]]:
        """Every record, the settled ones out of memory included (reads the whole file: for
        occasional surveys, not per event)."""
        in_memory = dict(self.records)
        yield from in_memory.items()
        if self._file is None or self.keep_settled is None:
            return
        for key, raw in self._file.items():
            if key not in in_memory:
                yield key, msgspec.json.decode(raw, type=self.record_type)

    def _state(self) -> Any:
        return self.records

    def _restore(self, raw: bytes) -> None:
        self.records = msgspec.json.decode(raw, type=dict[str, self.record_type])  # type: ignore[name-defined]

    def _clear(self) -> None:
        self.records = {}
        self._settled_order = {}

    def load(self) -> None:
        """Restore the records and the position of the last checkpoint, if any (of the settled
        records, only the `keep_settled` most recently written)."""
        if self._file is None:
            return
        stored = self._file.read(settled=self.keep_settled)
        if stored is None:
            return
        position, rows = stored
        # One decode of one JSON object made of the stored records: far cheaper than one call per record.
        joined = b"{" + b",".join(msgspec.json.encode(key) + b":" + value for key, value in rows) + b"}"
        self._restore(joined)
        self._settled_order = {key: None for key, record in reversed(list(self.records.items())) if self._settled(record)}
        self.position = position
        self._changed = set()
        self._whole = False

    def snapshot(self) -> Callable[[], None] | None:
        """The records changed since the last snapshot (references: encoded on the writer's thread)."""
        if self._file is None:
            return None
        file, position, whole = self._file, self.position, self._whole
        keys = set(self.records) if whole else self._changed
        present = {key: self.records[key] for key in keys if key in self.records}
        removed = [key for key in keys if key not in self.records]
        settled = {key for key, record in present.items() if self._settled(record)}
        self._changed, self._whole = set(), False
        self._writing = (set(keys), whole)
        encode = msgspec.json.encode

        def write() -> None:
            file.write(position, {key: encode(record) for key, record in present.items()}, removed, whole=whole, settled=settled)

        return write

    def checkpoint_written(self) -> None:
        """The last snapshot is on disk: settled records unchanged since leave memory (all but the
        `keep_settled` most recent)."""
        self._writing = None
        if self.keep_settled is None or self._file is None:
            return
        excess = len(self._settled_order) - self.keep_settled
        for key in list(self._settled_order):
            if excess <= 0:
                break
            if key in self._changed:
                continue  # changed since the snapshot: the file does not hold this state yet
            del self._settled_order[key]
            self.records.pop(key, None)
            excess -= 1

    def checkpoint_failed(self) -> None:
        """The last write was rolled back: the next one stores its records again."""
        if self._writing is not None:
            keys, whole = self._writing
            self._changed |= keys
            self._whole = self._whole or whole
        else:
            self._whole = True
        self._writing = None

    def reset(self) -> None:
        """Forget the records and the position, and delete the checkpoint file."""
        self._clear()
        self.position = 0
        self._changed, self._whole, self._writing = set(), True, None
        if self._file is not None:
            self._file.delete()
