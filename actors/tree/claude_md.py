"""Reading a workspace's `CLAUDE.md` for a prompt or an announcement: bounded, and never through a
link that leaves the folder it belongs to."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

CLAUDE_MD = "CLAUDE.md"
CLAUDE_MD_BYTES = 8192
TRUNCATED = "\n[… CLAUDE.md truncated]"


def bounded_text(data: bytes, limit: int = CLAUDE_MD_BYTES) -> str:
    """`data` decoded as UTF-8 (bad bytes replaced), cut at `limit` bytes with a marker if longer."""
    truncated = len(data) > limit
    # An incremental decoder drops a multi-byte character cut in half at the bound.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data[:limit], final=not truncated)
    return text + TRUNCATED if truncated else text


def read_claude_md(folder: Path, limit: int = CLAUDE_MD_BYTES) -> str | None:
    """`folder/CLAUDE.md`, at most `limit` bytes of it; None when it is missing, is not a regular
    file (a FIFO would block), or is a link whose target is outside `folder`."""
    path = folder / CLAUDE_MD
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            real = Path(os.path.realpath(path, strict=True))
            base = Path(os.path.realpath(folder))
            if base not in real.parents:
                return None
            path = real
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return bounded_text(handle.read(limit + 1), limit)
