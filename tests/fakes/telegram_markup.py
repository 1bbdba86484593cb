"""Telegram's text formatting as the fake Bot API checks it: HTML and MarkdownV2 (plus legacy Markdown).

`render(text, parse_mode)` returns the visible text (entities stripped, HTML entities decoded) or raises
`TelegramRefusal(400, "Bad Request: can't parse entities: ...")` with the real server's wording (tdlib's parser).
Lengths are counted with `utf16_len`, as the Bot API counts them.
"""

from __future__ import annotations

import json
import re
from typing import Any

HTML_TAGS = frozenset({"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
                       "tg-emoji", "code", "pre", "blockquote"})
MAX_TEXT = 4096  # UTF-16 code units, after entity parsing
MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));?")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTRS = re.compile(r"""(?:\s+[^\s=>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*\s*>""")
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}")
_MD_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler", "`": "Code",
             "```": "Pre", "[": "TextUrl", "(": "TextUrl"}


class TelegramRefusal(Exception):
    """An error answer of the fake Bot API: `{"ok": false, "error_code": code, "description": ...}`."""

    def __init__(self, code: int, description: str, parameters: dict[str, int] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> dict[str, object]:
        """The JSON error body the Bot API sends."""
        body: dict[str, object] = {"ok": False, "error_code": self.code, "description": self.description}
        return body | ({"parameters": self.parameters} if self.parameters else {})


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (an emoji outside the BMP counts 2), as the Bot API measures text."""
    return len(text.encode("utf-16-le")) // 2


def auto_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` and `mention` entities Telegram attaches to a user's plain text (UTF-16 offsets)."""
    found = [("bot_command", m) for m in _COMMAND.finditer(text)] + [("mention", m) for m in _MENTION.finditer(text)]
    entities = [{"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
                for kind, m in found]
    return sorted(entities, key=lambda entity: entity["offset"])


def visible_text(text: str, parse_mode: str | None, *, strict_html: bool = True) -> str:
    """The visible text of a message to send, refused when unparsable, empty or longer than `MAX_TEXT`."""
    visible = render(text, parse_mode, strict_html=strict_html)
    if not visible.strip():
        raise TelegramRefusal(400, "Bad Request: message text is empty")
    if utf16_len(visible) > MAX_TEXT:
        raise TelegramRefusal(400, "Bad Request: message is too long")
    return visible


def render(text: str, parse_mode: str | None, *, strict_html: bool = True) -> str:
    """The visible text of `text` under `parse_mode` (case-insensitive), or a `TelegramRefusal`."""
    mode = (parse_mode or "").lower()
    if not mode:
        return text
    if mode == "html":
        return _html(text, strict_html)
    if mode == "markdownv2":
        return _markdown_v2(text)
    if mode == "markdown":
        return _markdown_v1(text)
    raise TelegramRefusal(400, f"Bad Request: unsupported parse_mode {parse_mode}")


def _refuse(reason: str) -> TelegramRefusal:
    return TelegramRefusal(400, f"Bad Request: can't parse entities: {reason}")


def _byte(text: str, index: int) -> int:
    return len(text[:index].encode())


def _html(text: str, strict: bool) -> str:
    """Decode like tdlib's parse_html; with `strict`, also refuse a bare `&` (tdlib would keep it)."""
    out: list[str] = []
    open_tags: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            entity = _HTML_ENTITY.match(text, i)
            if entity is None:
                if strict:
                    raise _refuse(f"Unsupported HTML entity at byte offset {_byte(text, i)}; escape '&' as '&amp;'")
                out.append(char)
                i += 1
                continue
            named, decimal, hexadecimal = entity.groups()
            out.append(_HTML_NAMED[named] if named else chr(int(decimal) if decimal else int(hexadecimal, 16)))
            i = entity.end()
            continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        begin = _byte(text, i)
        if text.startswith("</", i):
            if not open_tags:
                raise _refuse(f"Unexpected end tag at byte offset {begin}")
            close = text.find(">", i)
            if close < 0:
                raise _refuse(f"Unclosed end tag at byte offset {begin}")
            name = text[i + 2 : close].strip().lower()
            if name and name != open_tags[-1]:
                expected = open_tags[-1]
                raise _refuse(f'Unmatched end tag at byte offset {begin}, expected "</{expected}>", found "</{name}>"')
            open_tags.pop()
            i = close + 1
            continue
        end = i + 1
        while end < n and not text[end].isspace() and text[end] != ">":
            end += 1
        if end >= n:
            raise _refuse(f"Unclosed start tag at byte offset {begin}")
        name = text[i + 1 : end].lower()
        if name not in HTML_TAGS:
            raise _refuse(f'Unsupported start tag "{name}" at byte offset {begin}')
        attrs = _HTML_ATTRS.match(text, end)
        if attrs is None:
            raise _refuse(f'Unclosed start tag "{name}" at byte offset {begin}')
        open_tags.append(name)
        i = attrs.end()
    if open_tags:
        raise _refuse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def _markdown_v2(text: str) -> str:
    """Strip MarkdownV2 markers; refuse unescaped reserved characters and unclosed entities."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []  # (marker, byte offset where it opened)
    i, n = 0, len(text)
    while i < n:
        char, top = text[i], stack[-1][0] if stack else ""
        if top == "(":  # a link's URL is not visible text; `)` and `\\` are escaped inside it
            i += 2 if char == "\\" else 1
            if char == ")":
                stack.pop()
        elif char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) < 127:
            out.append(text[i + 1])
            i += 2
        elif top in ("`", "```"):  # code: only the closing marker (and escapes) are special
            if text.startswith(top, i):
                stack.pop()
                i += len(top)
            else:
                out.append(char)
                i += 1
        elif char == "`":
            marker = "```" if text.startswith("```", i) else "`"
            stack.append((marker, _byte(text, i)))
            i += len(marker)
            newline = text.find("\n", i)
            if marker == "```" and newline >= 0 and not any(c.isspace() for c in text[i:newline]):
                i = newline + 1  # the language line of a pre block
        elif char == "[" or text.startswith("![", i):
            stack.append(("[", _byte(text, i)))
            i += 2 if char == "!" else 1
        elif char == "]" and top == "[":
            stack.pop()
            if not text.startswith("(", i + 1):
                raise _refuse(f"Can't find end of TextUrl entity at byte offset {_byte(text, i)}")
            stack.append(("(", _byte(text, i)))
            i += 2
        elif char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote line
        elif text.startswith("**>", i) and (i == 0 or text[i - 1] == "\n"):
            i += 3  # expandable blockquote
        elif char in "*_~" or text.startswith("||", i):
            marker = "__" if text.startswith("__", i) else "||" if char == "|" else char
            if top == marker:
                stack.pop()
            else:
                stack.append((marker, _byte(text, i)))
            i += len(marker)
        elif char in MARKDOWN_V2_RESERVED:
            raise _refuse(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        else:
            out.append(char)
            i += 1
    if stack:
        marker, offset = stack[-1]
        raise _refuse(f"Can't find end of {_MD_NAMES[marker]} entity at byte offset {offset}")
    return "".join(out)


def _markdown_v1(text: str) -> str:
    """Legacy Markdown: `*`, `_`, backticks and `[text](url)`; only unclosed entities are errors."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        marker = "```" if text.startswith("```", i) else char
        if marker in ("*", "_", "`", "```"):
            close = text.find(marker, i + len(marker))
            if close < 0:
                raise _refuse(f"Can't find end of the entity starting at byte offset {_byte(text, i)}")
            out.append(text[i + len(marker) : close])
            i = close + len(marker)
        elif char == "[" and (link := re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(text, i)):
            out.append(link.group(1))
            i = link.end()
        else:
            out.append(char)
            i += 1
    return "".join(out)


def reply_markup(params: dict[str, str]) -> dict[str, Any] | None:
    """The decoded `reply_markup`; callback data over 64 bytes is refused like the real server does."""
    if "reply_markup" not in params:
        return None
    markup: dict[str, Any] = json.loads(params["reply_markup"])
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise TelegramRefusal(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup
