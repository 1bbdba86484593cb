"""Sessions' temporary folders in `/tmp`, kept (empty) while a session that may hide them lives.

A workspace session hides every entry of `/tmp` but its own temporary folder, by naming each one
in its read deny rules when it starts (`confinement.ReadScope.sandbox_denials`). Claude Code's
sandbox resolves those paths again for every Bash command, and a path that has gone since fails
closed: bubblewrap cannot make its mount point in the read-only `/tmp` and the command is refused
("bwrap: Can't mkdir /tmp/tnl-…: Read-only file system"). The entries that come and go most in
`/tmp` are other sessions' temporary folders; a warm session (started minutes before its first
command) would meet that almost surely on a busy host.

So a session's folder in `/tmp` is emptied when the session ends, and removed only once every
session that started while it existed has ended. What other programs do in `/tmp` is out of reach.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

_lock = threading.Lock()
_ticks = itertools.count()
_live: set[int] = set()
_retired: list[tuple[int, Path]] = []


@contextlib.contextmanager
def live_session() -> Iterator[None]:
    """Mark a session live for the block (enter it before its deny rules are computed)."""
    with _lock:
        me = next(_ticks)
        _live.add(me)
    try:
        yield
    finally:
        with _lock:
            _live.discard(me)
            due = _due()
        _remove(due)


def retire(folder: Path) -> None:
    """Empty `folder` now and remove it once no session that may name it is live."""
    with contextlib.suppress(OSError):
        for child in list(folder.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    with _lock:
        _retired.append((next(_ticks), folder))
        due = _due()
    _remove(due)


def waiting() -> list[Path]:
    """The emptied folders still kept (for tests and inspection)."""
    with _lock:
        return [folder for _, folder in _retired]


def _due() -> list[Path]:
    # Called with the lock held: a folder retired at tick r may be named by a session that
    # started before r; it may go once the oldest live session started after r.
    oldest = min(_live, default=None)
    due = [folder for tick, folder in _retired if oldest is None or oldest > tick]
    _retired[:] = [(tick, folder) for tick, folder in _retired if not (oldest is None or oldest > tick)]
    return due


def _remove(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
