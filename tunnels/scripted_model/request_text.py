"""Reading a Messages API request body the way the Claude Code CLI writes it.

The CLI injects context the caller never wrote: `<system-reminder>` blocks in the first user
message (git attribution text, CLAUDE.md contents, skills) and a mid-conversation
`{"role": "system"}` message holding the environment (`Primary working directory: …`). Matching
must see only what the caller wrote, so the *task text* is the system prompt plus the first user
message without the CLI's reminders (text blocks opening with `<system-reminder>`, and any
`<system-reminder>…</system-reminder>` span left). Only the user message is cleaned: Claude Code's
own system prompt mentions `<system-reminder>` in passing. Callers that put untrusted text in a
prompt escape `<`, so such text can never fake or hide a reminder.
"""

from __future__ import annotations

import json
import re
from typing import Any

_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
# 2.1.x puts the environment in a system message; older builds used an <env> block.
_CWD_PATTERNS = (
    re.compile(r"Primary working directory: *(\S[^\n]*)"),
    re.compile(r"Working directory: *(\S[^\n]*)"),
)


def content_text(content: Any) -> str:
    """The text of a message `content` (a string or a list of blocks), blocks joined by newlines.

    Text blocks give their text, tool results their content, tool uses their input as JSON.
    """
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "tool_result":
            parts.append(content_text(block.get("content", "")))
        elif kind == "tool_use":
            parts.append(json.dumps(block.get("input", {}), ensure_ascii=False))
    return "\n".join(parts)


def system_text(body: dict[str, Any]) -> str:
    """The system prompt of a request as one string."""
    return content_text(body.get("system", ""))


def strip_reminders(text: str) -> str:
    """`text` without the CLI's `<system-reminder>` spans."""
    return _REMINDER.sub("", text)


def task_text(body: dict[str, Any]) -> str:
    """What the caller wrote: the system prompt and the first user message, reminders removed."""
    first_user = next(
        (m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"),
        None,
    )
    user = _without_reminder_blocks(first_user.get("content", "")) if first_user else ""
    return system_text(body) + "\n" + strip_reminders(content_text(user))


def _without_reminder_blocks(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    return [
        block
        for block in content
        if not (
            isinstance(block, dict)
            and str(block.get("text", "")).lstrip().startswith("<system-reminder>")
        )
    ]


def messages_text(body: dict[str, Any]) -> str:
    """The text of every message of a request (tool results included), in order."""
    return "\n".join(
        content_text(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict)
    )


def assistant_turns(body: dict[str, Any]) -> int:
    """How many assistant messages the request already holds: the index of the turn to play."""
    return sum(
        1 for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "assistant"
    )


def session_cwd(body: dict[str, Any]) -> str | None:
    """The session's working directory, as the CLI states it in its environment section."""
    text = system_text(body) + "\n" + messages_text(body)
    for pattern in _CWD_PATTERNS:
        found = pattern.search(text)
        if found:
            return found.group(1).strip()
    return None
