"""Which of many names a text mentions, with one matcher built once per set of names.

A name counts when it stands alone: not inside a longer word or path. That is the rule of the
regular expression `(?<![\\w/.-])NAME(?![\\w/-])`, case-insensitive, searched once per name. One
regex per name is slow at scale (a thousand names overflow Python's regex cache, and every call
compiles them again), so `NameMatcher` answers for every name in one pass over the text:

- names are indexed by their case-folded form (the fold is the one Python's `re.IGNORECASE` uses:
  each character's simple lowercase, and the few characters it also treats as equal, `ſ` and `s`,
  `ı` and `i`, `µ` and `μ`..., mapped to one of them), grouped by first character and length;
- at each position of the text where a name may start (the character before is no word
  character, `/`, `.` or `-`), the names of that first character are looked up by the folded
  slice of each of their lengths, and kept when the character after is no word character, `/`
  or `-`.

Every mention is found, overlapping ones too (`web app` mentions both `web app` and `web`), as
the per-name searches did; `tests/tree/test_mentions.py` compares the two on tricky inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

try:  # the characters `re.IGNORECASE` treats as equal beyond their lowercase (CPython 3.11+)
    from re._casefix import _EXTRA_CASES  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - another Python: the lowercase alone
    _EXTRA_CASES = {}

_BEFORE = re.compile(r"[\w/.-]")  # a name starting right after one of these is inside something
_AFTER = re.compile(r"[\w/-]")  # ... and one followed by one of these too


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    lower = char.lower()[:1] or char  # the simple lowercase: `İ` lowers to `i` + a combining dot
    extra = _EXTRA_CASES.get(ord(lower))
    return min(lower, *(chr(code) for code in extra)) if extra else lower


def fold(text: str) -> str:
    """`text` with each character replaced by its case-insensitive representative (same length:
    position i of the result stands for position i of `text`)."""
    if text.isascii():
        return text.lower()  # ASCII letters have no other case partner in ASCII
    return "".join(_fold_char(char) for char in text)


class NameMatcher:
    """The names (project or qualified workspace names) a text mentions, standing alone."""

    def __init__(self, names: Iterable[str]) -> None:
        # first folded character -> length -> folded name -> the names folding to it
        self._index: dict[str, dict[int, dict[str, list[str]]]] = {}
        for name in dict.fromkeys(names):
            if not name:
                continue
            folded = fold(name)
            by_length = self._index.setdefault(folded[0], {})
            by_length.setdefault(len(folded), {}).setdefault(folded, []).append(name)
        # Longest first: a caller reading the set gets no order from it, but it keeps the scan's
        # lookups in a fixed order.
        for first, by_length in self._index.items():
            self._index[first] = dict(sorted(by_length.items(), reverse=True))

    def mentioned(self, text: str) -> set[str]:
        """Every name that `text` mentions as a whole name, case-insensitively."""
        found: set[str] = set()
        if not self._index or not text:
            return found
        folded = fold(text)
        size = len(text)
        index = self._index
        for start, first in enumerate(folded):
            by_length = index.get(first)
            if by_length is None or (start and _BEFORE.match(text, start - 1)):
                continue
            for length, names in by_length.items():
                end = start + length
                if end > size or (end < size and _AFTER.match(text, end)):
                    continue
                same = names.get(folded[start:end])
                if same:
                    found.update(same)
        return found
