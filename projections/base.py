"""What every projection is: a fold with its stream position, persisted together."""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import msgspec

from claude_tunnels.events.catalogue import AnyEvent


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

    def save(self) -> None:
        """Persist the state with its position (after `write_outputs`, so a crash only re-writes)."""
        if self._checkpoint_path is None:
            return
        state = msgspec.Raw(msgspec.json.encode(self._state()))
        write_atomically(self._checkpoint_path, msgspec.json.encode(Checkpoint(position=self.position, state=state)))

    def reset(self) -> None:
        """Forget the state and the position, and delete the checkpoint."""
        self._clear()
        self.position = 0
        if self._checkpoint_path is not None:
            self._checkpoint_path.unlink(missing_ok=True)
