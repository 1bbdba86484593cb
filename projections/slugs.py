"""File names for the task log: a safe, deterministic slug of any label."""

from __future__ import annotations

import re
import unicodedata

_SLUG_DASHES = re.compile(r"[-_]*-[-_]*")
# Names Windows refuses whatever the extension; a task log may be opened from a shared drive.
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
)


def slug(label: str, max_len: int = 48) -> str:
    """A file-name-safe, deterministic slug of ``label`` (at most ``max_len`` characters).

    Letters of any script and digits are kept (lowercased, NFKC-normalised); everything else
    (slashes, dots, spaces, ``<>:"|?*``) becomes ``-``. An empty result is ``request``; a
    Windows-reserved name (``con``, ``lpt1``) gets a ``_`` suffix.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    text = "".join(
        char if char.isalnum() or char == "_" or unicodedata.category(char).startswith("M") else "-"
        for char in unicodedata.normalize("NFKC", label).casefold()
    )
    text = _SLUG_DASHES.sub("-", text).strip("-_")
    text = text[:max_len].rstrip("-_") or "request"[:max_len]
    if text in _WINDOWS_RESERVED:
        text = text[: max_len - 1] + "_" if max_len > len(text) else "request"[:max_len]
    return text
