"""Telegram HTML: escaping, and splitting into messages of at most 4096 UTF-16 code units.

The Bot API measures a text after entity parsing (tags do not count, `&lt;` counts as one) and in
UTF-16 code units (an emoji outside the BMP counts two). `split_html` cuts only between visible
characters: never inside a tag or an `&...;` entity, never inside a surrogate pair (Python strings
hold whole code points), and it closes the tags open at a cut and opens them again in the next part.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_UNITS = 4096
"""The Bot API's limit on a message text, in UTF-16 code units after entity parsing."""

_ATOM = re.compile(r"<[^>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);|.", re.DOTALL)
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")
_NO_CUT_BEFORE = "\u200d\ufe0e\ufe0f"  # zero-width joiner, variation selectors: part of the character before
_FENCE = re.compile(r"^[ \t]*```([^\n`]*)\n(.*?)\n?[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)
"""A fenced code block: its language (may be empty) and its body; an unclosed fence stays text."""
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")


def utf16_units(text: str) -> int:
    """The length of `text` in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """`text` safe inside Telegram HTML: only `<`, `>` and `&` are special (quotes are left alone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_html(text: str) -> str:
    """A message as Telegram HTML: code blocks (```) as `<pre>`, inline `code` as `<code>`,
    everything else escaped; its first line in bold when more lines follow."""
    head, newline, rest = text.partition("\n")
    if not newline or not head.strip() or head.lstrip().startswith("```"):
        return _code_html(text)
    return f"<b>{_code_html(head)}</b>\n{_code_html(rest)}"


def _code_html(text: str) -> str:
    out: list[str] = []
    start = 0
    for block in _FENCE.finditer(text):
        out.append(_inline_html(text[start:block.start()]))
        language, body = block.group(1).strip(), block.group(2)
        if language and _LANGUAGE.fullmatch(language):
            out.append(f'<pre><code class="language-{language}">{escape(body)}</code></pre>')
        else:
            out.append(f"<pre>{escape(body)}</pre>")
        start = block.end()
    out.append(_inline_html(text[start:]))
    return "".join(out)


def _inline_html(text: str) -> str:
    out: list[str] = []
    start = 0
    for code in _INLINE_CODE.finditer(text):
        out.append(escape(text[start:code.start()]) + f"<code>{escape(code.group(1))}</code>")
        start = code.end()
    return "".join(out) + escape(text[start:])


def visible(markup: str) -> str:
    """The text a person sees for `markup` (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def split_html(markup: str, limit: int = MAX_UNITS) -> list[str]:
    """Cut `markup` into parts of at most `limit` visible UTF-16 units, each a well-formed message.

    A part ends at the last line break that keeps it within the limit (if that is past half of
    it), else at the last space, else between two characters. Parts with nothing visible are dropped.
    """
    atoms = _atoms(markup)
    parts: list[str] = []
    start, open_tags = 0, list[str]()  # the opening tags (raw) in force where the part starts
    while start < len(atoms):
        end = _cut(atoms, start, limit)
        closing_at_end = _open_after(atoms[start:end], open_tags)
        while end < len(atoms) and atoms[end][2] == "close":  # keep a closing tag with its text
            end += 1
            closing_at_end = _open_after([atoms[end - 1]], closing_at_end)
        body = "".join(raw for raw, _, _ in atoms[start:end])
        part = "".join(open_tags) + body + "".join(f"</{_name(tag)}>" for tag in reversed(closing_at_end))
        if visible(part).strip():
            parts.append(part)
        start, open_tags = end, closing_at_end
    return parts


def _atoms(markup: str) -> list[tuple[str, int, str]]:
    """(raw text, visible units, kind) for each tag, entity and character; kind: open, close or text."""
    atoms: list[tuple[str, int, str]] = []
    for match in _ATOM.finditer(markup):
        raw = match.group()
        if raw.startswith("<") and len(raw) > 1:
            atoms.append((raw, 0, "close" if raw.startswith("</") else "open"))
        else:
            atoms.append((raw, utf16_units(html.unescape(raw)), "text"))
    return atoms


def _cut(atoms: list[tuple[str, int, str]], start: int, limit: int) -> int:
    """The index where the part starting at `start` ends (exclusive)."""
    units, line_break, space, index = 0, 0, 0, start
    while index < len(atoms):
        raw, width, kind = atoms[index]
        if kind == "text":
            if units + width > limit:
                break
            units += width
            if raw == "\n" and units > limit // 2:
                line_break = index + 1
            elif raw in (" ", "\n", "\t"):
                space = index + 1
        index += 1
    if index == len(atoms):
        return index
    if line_break or space:
        return line_break or space
    # A hard cut: step back over joiners and combining marks, which belong to the character before.
    end = index
    while end > start + 1 and atoms[end][2] == "text" and _joins(atoms[end][0], atoms[end - 1][0]):
        end -= 1
    return end if end > start else start + 1


def _joins(char: str, before: str) -> bool:
    return (
        char in _NO_CUT_BEFORE or before == "\u200d"
        or (len(char) == 1 and unicodedata.category(char).startswith("M"))
        or ("\U0001f3fb" <= char <= "\U0001f3ff")  # skin-tone modifiers
    )


def _open_after(atoms: list[tuple[str, int, str]], open_tags: list[str]) -> list[str]:
    """The opening tags still in force after `atoms`, given those in force before."""
    stack = list(open_tags)
    for raw, _, kind in atoms:
        if kind == "open":
            stack.append(raw)
        elif kind == "close" and stack:
            stack.pop()
    return stack


def _name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match.group(1).lower() if match else ""
