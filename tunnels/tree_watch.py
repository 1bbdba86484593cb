"""Whether the folders a discovery read have changed since: the stamps of what it looked at.

A discovery (`tunnels.discovery.discover(looked_at=...)`) depends only on the folders it listed
or checked for a `CLAUDE.md` and on the files it read. A folder's modification time changes when
an entry is added, removed or renamed in it (a new workspace folder, a new `CLAUDE.md` or
manifest, an editor's save-by-rename); a file's when it is written. So while no stamp
(modification time in ns, size, inode) of those paths changes, discovering again would give the
same tree. Checking is one `stat` per path (a few ms at a thousand workspaces, against 50-300 ms
for a walk with the manifests).

A change made while the walk ran could be stamped as the walk saw it or after; so a stamp newer
than the walk's start, less the file system's timestamp granularity, makes the fingerprint
provisional: the next check says "changed" and the tree is walked again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Stamp = tuple[int, int, int] | None
"""(modification time in ns, size, inode) of a path; None when it cannot be read."""

GRANULARITY_NS = 1_000_000_000
"""How coarse a file system's timestamps may be (a tick of the kernel clock, 1-2 s on some)."""


def stamp(path: Path) -> Stamp:
    """The stamp of `path` (following links: a linked file's edit counts)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class Fingerprint:
    """The stamps of the paths a tree was discovered from, taken right after the walk."""

    paths: tuple[Path, ...]
    stamps: tuple[Stamp, ...]
    provisional: bool
    """Something changed while the walk ran (or may have): the next check says "changed"."""

    @classmethod
    def taken(cls, paths: Sequence[Path], walk_started_ns: int) -> Fingerprint:
        """Stamp `paths`, which a walk begun at `walk_started_ns` (`time.time_ns()`) looked at."""
        unique = tuple(dict.fromkeys(paths))
        stamps = tuple(stamp(path) for path in unique)
        recent = walk_started_ns - GRANULARITY_NS
        return cls(unique, stamps, provisional=any(s is not None and s[0] >= recent for s in stamps))

    def changed(self) -> bool:
        """Whether a walk now could give another tree than the one this fingerprint was taken of."""
        return self.provisional or any(stamp(path) != old for path, old in zip(self.paths, self.stamps, strict=True))


def now_ns() -> int:
    """The wall clock in ns, as file modification times are stamped."""
    return time.time_ns()
