"""The `api` channel: scripts and webhooks talking to the orchestrator over HTTP.

Like a chat channel it only translates. A caller (a web user or a script, known by the chat
identity its token maps to) speaks in named conversations: `api:<identity>:<conversation>`.
What the orchestrator answers there is not pushed anywhere: it is read back from the stream,
rendered as the chat channels render it (`channels.render`), by `GET` or as server-sent events
(the HTTP side is `tunnels.dashboard`). So nothing is lost when no caller listens, and a caller
that comes back later reads what it missed (`after=<seq>`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from claude_tunnels.channels.render import render
from claude_tunnels.events.catalogue import CHAT_REPLIES, AnyEvent
from claude_tunnels.events.conversation import MessageReceived

NAME = "api"
_CONVERSATION = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConversationNameError(ValueError):
    """A conversation name that is not 1-64 letters, digits, `_` or `-`."""


def conversation_key(identity: str, conversation: str = "default") -> str:
    """The session key of `identity`'s conversation named `conversation` (validated)."""
    if not _CONVERSATION.fullmatch(conversation):
        raise ConversationNameError(f"conversation {conversation[:80]!r} must be 1-64 letters, digits, _ or -")
    return f"{NAME}:{identity}:{conversation}"


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the orchestrator said in an API conversation, as a chat would show it."""

    seq: int
    type: str
    text: str
    request_id: str | None = None
    approval_for: str | None = None
    """Set on the plan's question: the request whose plan waits for approve / cancel."""


def reply_of(seq: int, event: AnyEvent) -> Reply | None:
    """The reply `event` is in a conversation (None: nothing a person reads)."""
    if not isinstance(event, CHAT_REPLIES) or isinstance(event, MessageReceived):
        return None
    text = render(event, progress=False)
    if not text:
        return None
    request_id = getattr(event, "request_id", None)
    waiting = request_id if event.type == "confirmation.requested" else None
    return Reply(seq=seq, type=event.type, text=text, request_id=request_id, approval_for=waiting)


def replies(stored: Iterable[tuple[int, AnyEvent]], *, after: int = 0) -> list[Reply]:
    """The replies among `stored` (sequence, event) after sequence `after`, in order."""
    return [reply for seq, event in stored if seq > after and (reply := reply_of(seq, event)) is not None]
