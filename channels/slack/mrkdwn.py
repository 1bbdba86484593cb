"""Plain text to Slack mrkdwn: escaping, and splitting into parts that fit one message each.

Slack reads `&`, `<` and `>` as markup (`<@U1>`, `<http://…|label>`, `&amp;`), so they are escaped
everywhere, code blocks included. A part is cut at a line boundary and never inside a ``` block:
a block that fits in a part moves whole to the next part; one that is itself too long is closed
at the cut and reopened in the next part. Only a single line longer than a part is cut mid-line.
"""

from __future__ import annotations

import re

TEXT_LIMIT = 3_900
"""Characters of `text` per plain message (Slack recommends at most 4,000)."""

SECTION_LIMIT = 3_000
"""Characters of a `section` block's text (Slack refuses more with `invalid_blocks`)."""

FENCE = "```"
_FENCE_LINE = 24  # a longer fence line carries code, not just a language name
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """`text` with Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What a person typed, from Slack's escaped form (the inverse of `escape`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_mrkdwn_parts(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` escaped and split into parts of at most `limit` characters (none when blank)."""
    return split(escape(text), limit)


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Already escaped `text` in parts of at most `limit` characters, cut at line boundaries."""
    if limit < 4 * _FENCE_LINE:
        raise ValueError(f"limit {limit} is too small to hold a code block; use at least {4 * _FENCE_LINE}")
    parts: list[str] = []
    current: list[str] = []
    size = -1  # the length of "\n".join(current)
    for unit in _pieces(_units(_fences_apart(text.strip("\n"), limit // 2)), limit):
        cost = len(unit) + 1
        if current and size + cost > limit:
            parts.append("\n".join(current))
            current, size = [], -1
        current.append(unit)
        size += cost
    if current:
        parts.append("\n".join(current))
    return [part for part in (p.strip("\n") for p in parts) if part.strip()]


def _fences_apart(text: str, longest: int) -> str:
    """Fences on lines of their own wherever a line is long enough to be cut: a cut never splits
    a line holding a fence, so every part keeps its fences paired."""
    lines = []
    for line in text.split("\n"):
        if len(line) <= longest or FENCE not in line:
            lines.append(line)
            continue
        pieces = line.split(FENCE)
        for index, piece in enumerate(pieces):
            if index:
                lines.append(FENCE)
            if piece.strip():
                lines.append(piece)
    return "\n".join(lines)


def _units(text: str) -> list[list[str]]:
    """Lines grouped into units: a line outside code blocks, or a whole ``` block (fences included)."""
    units: list[list[str]] = []
    block: list[str] | None = None
    for line in text.split("\n"):
        toggles = line.count(FENCE) % 2 == 1
        if block is None:
            if toggles:
                block = [line]
            else:
                units.append([line])
        else:
            block.append(line)
            if toggles:
                units.append(block)
                block = None
    if block is not None:
        block.append(FENCE)  # an unclosed block is closed, so no part leaves one open
        units.append(block)
    return units


def _pieces(units: list[list[str]], limit: int) -> list[str]:
    """Each unit as one string when it fits in `limit`, else cut into strings that each fit."""
    pieces: list[str] = []
    for unit in units:
        joined = "\n".join(unit)
        if len(joined) <= limit:
            pieces.append(joined)
        elif len(unit) == 1:
            pieces.extend(_cut_line(joined, limit))
        else:
            pieces.extend(_cut_block(unit, limit))
    return pieces


def _cut_block(block: list[str], limit: int) -> list[str]:
    """A too-long ``` block as several blocks, closed and reopened (with a bare fence) at line boundaries."""
    opener, body, closer = block[0], block[1:-1], block[-1]
    if len(opener) > _FENCE_LINE or len(closer) > _FENCE_LINE:
        # Code on a fence line (```code … code```): move it inside, so the fences are short.
        head, _, tail = opener.partition(FENCE)
        inner, _, after = closer.rpartition(FENCE)
        body = [line for line in (head, tail, *body, inner, after) if line.strip()]
        opener = closer = FENCE
    room = limit - max(len(opener), len(closer), len(FENCE)) * 2 - 2
    lines = [piece for line in body for piece in ([line] if len(line) <= room else _cut_line(line, room))]
    chunks: list[list[str]] = [[]]
    size = -1
    for line in lines:
        if chunks[-1] and size + len(line) + 1 > room:
            chunks.append([])
            size = -1
        chunks[-1].append(line)
        size += len(line) + 1
    last = len(chunks) - 1
    return ["\n".join([opener if i == 0 else FENCE, *chunk, closer if i == last else FENCE])
            for i, chunk in enumerate(chunks)]


def _cut_line(line: str, limit: int) -> list[str]:
    """One overlong line in slices of at most `limit`, never through an `&amp;`-style entity."""
    slices: list[str] = []
    while len(line) > limit:
        cut = limit
        space = line.rfind(" ", limit // 2, limit)
        if space > 0:
            cut = space + 1
        entity = _ENTITY_TAIL.search(line[:cut])
        if entity:
            cut = entity.start()
        slices.append(line[:cut])
        line = line[cut:]
    slices.append(line)
    return slices
