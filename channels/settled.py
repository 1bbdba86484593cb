"""A plan's message once it is answered: the "Reply yes …" line gives way to what became of it.

Slack and Telegram edit the message they posted (and drop its buttons); the terminal prints the
outcome as the next line (`channels.render`). `escape` is the chat's own escaping of plain text
(mrkdwn, Telegram HTML), since the stored message is already in the chat's markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationCancelled, ConfirmationExpired, ConfirmationGiven, PlanRevised
from claude_tunnels.events.execution import RequestCancelled, RequestCompleted, RequestFailed

APPROVAL_QUESTION = "Reply yes to run it"
"""How `render` starts the question under a plan (a test keeps the two in step)."""
_QUESTION_LINE = re.compile(rf"\n*{re.escape(APPROVAL_QUESTION)}[^\n]*\s*$")


def outcome(event: AnyEvent) -> str | None:
    """What became of a plan, in one line; None when `event` does not settle a plan."""
    match event:
        case ConfirmationGiven() if event.auto:
            return "✓ Approved automatically."
        case ConfirmationGiven():
            return f"✓ Approved by {event.by}."
        case ConfirmationCancelled():
            return f"✗ Cancelled by {event.by}; nothing ran."
        case ConfirmationExpired():
            return "✗ Not answered in time; nothing ran."
        case PlanRevised():
            return f"↻ {event.by} asked for changes; a new plan follows."
        case RequestCancelled():
            return f"✗ Cancelled by {event.by}; nothing ran." if event.by else "✗ Cancelled; nothing ran."
        case RequestFailed() | RequestCompleted():
            return "(Closed: this plan no longer waits for an answer.)"
    return None


def settled(posted: str, line: str | None, escape: Callable[[str], str]) -> str:
    """`posted` (the plan and its question, in the chat's markup) without the question, and with
    `line` (the `outcome`, plain text) under it."""
    plan = _QUESTION_LINE.sub("", posted).rstrip()
    return f"{plan}\n\n{escape(line)}" if line else plan
