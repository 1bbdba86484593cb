"""A one-line description of a project or workspace: the first paragraph of prose of its `CLAUDE.md`.

Skipped on the way: the YAML front matter, headings (`# …` and underlined ones), HTML comments
and tags standing alone, badges and images, horizontal rules, fenced code, tables and blank lines.
A list is used only when the file has no paragraph of prose at all. Links keep their text,
emphasis marks go, whitespace is collapsed, and the result is cut at a word with `…`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from claude_tunnels.actors.tree.front_matter import split_front_matter

DESCRIPTION_CHARS = 200

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s|$)")
_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_LIST = re.compile(r"^\s{0,3}([-*+]|\d{1,9}[.)])\s+")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINKED_IMAGE = re.compile(r"\[\s*!\[[^\]]*\]\([^)]*\)\s*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))")


def describe(claude_md: str, limit: int = DESCRIPTION_CHARS) -> str:
    """The first paragraph of prose of `claude_md`, on one line, at most `limit` characters
    (cut at a word, ending with `…`); "" when it has none."""
    _, body = split_front_matter(claude_md)
    body = _COMMENT.sub("", body)
    first_list = ""
    for paragraph in _paragraphs(body):
        if _LIST.match(paragraph[0]):
            first_list = first_list or _plain([_LIST.sub("", line, count=1) for line in paragraph])
            continue
        return shorten(_plain(paragraph), limit)
    return shorten(first_list, limit)


def _paragraphs(body: str) -> Iterator[list[str]]:
    """Blocks of consecutive lines worth reading, with headings, rules and code left out (lazily:
    a description needs only the first ones)."""
    current: list[str] = []
    fence: str | None = None
    for line in body.splitlines():
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        stripped = line.strip()
        if opening := _FENCE.match(line):
            fence = opening.group(1)[:3]
        elif current and _UNDERLINE.match(line):
            current = []  # the paragraph above was a heading (setext style)
        elif stripped and not _HEADING.match(line) and not _RULE.match(line) and not stripped.startswith("|") and _plain([line]):
            current.append(line)
            continue
        # Anything else ends a paragraph like a blank line: a fence, a heading, a rule, a table,
        # a badge, an image or a lone HTML tag.
        if current:
            yield current
        current = []
    if current:
        yield current


def _plain(lines: list[str]) -> str:
    """The lines as plain text: images and tags out, links as their text, no emphasis marks."""
    text = " ".join(lines)
    text = _LINKED_IMAGE.sub(" ", text)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())


def shorten(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    """`text` if it has at most `limit` characters, else cut at a word and ended with `…`."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"
