"""An exclusive lock file naming the process that holds it (one owner of a store, one agent)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO


class LockHeld(Exception):
    """Another process holds the lock; `owner` is what it wrote (e.g. `pid 1234`)."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


def acquire(path: Path) -> TextIO:
    """Take the lock at `path` (kept while the returned handle is open) or raise `LockHeld`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise LockHeld(owner) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def is_held(path: Path) -> bool:
    """Whether another process holds the lock at `path` right now."""
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
