"""Events of the conversation: what people said and what the session decided (session subjects)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from claude_tunnels.events.base import SessionEvent
from claude_tunnels.events.values import Delegation

Answer = Literal["approve", "cancel"]
Action = Literal["approve", "cancel", "merge", "pr", "discard"]
"""What a button stands for: a plan's or a question's answer, or a decision about a request's changes."""


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One earlier exchange of the conversation, handed to a follow-up request as context."""

    role: Literal["user", "assistant"]
    text: str


class MessageReceived(SessionEvent, frozen=True, kw_only=True, tag="message.received"):
    """A person sent a message (or pressed a button: `action`) in a chat; recorded before the chat is acknowledged.

    A button of a plan carries `request_id`; a button of a relayed permission question also
    carries `permission_id` (`approve` allows, `cancel` denies); a Merge / Open PR / Discard
    button carries `request_id` and the repository it is about (`repo`). A task a parent
    orchestrator handed this one arrives as a message of channel `parent` with its `delegation`."""

    channel: str
    sender: str
    text: str
    message_ref: str
    sender_name: str = ""
    action: Action | None = None
    permission_id: str | None = None
    repo: str | None = None
    delegation: Delegation | None = None


class RequestOpened(SessionEvent, frozen=True, kw_only=True, tag="request.opened"):
    """A message became a new request (`request_id` is set), with the recent turns as context;
    `delegation` when it is a parent orchestrator's task (its approved plan authorises this one)."""

    text: str
    requester: str
    channel: str
    message_id: str
    history: list[Turn] = []
    delegation: Delegation | None = None


class MessageQueued(SessionEvent, frozen=True, kw_only=True, tag="message.queued"):
    """A message arrived while a request ran; it waits and is handled after that request ends."""

    message_id: str
    text: str
    sender: str
    position: int = 1


class NoticeIssued(SessionEvent, frozen=True, kw_only=True, tag="notice.issued"):
    """The orchestrator told the person something that is not a result (status, refusal, error)."""

    text: str
    level: Literal["info", "warning", "error"] = "info"
    reply_to: str | None = None


class ConfirmationRequested(SessionEvent, frozen=True, kw_only=True, tag="confirmation.requested"):
    """The gate asked a person to approve the proposed plan of `request_id` before `expires_at`."""

    requester: str
    approvers: list[str] = []
    expires_at: datetime
    revision: int = 0


class ConfirmationAnswered(SessionEvent, frozen=True, kw_only=True, tag="confirmation.answered"):
    """Someone answered a pending confirmation (typed or with a button); the gate checks who."""

    by: str
    answer: Answer
    message_id: str


class ConfirmationGiven(SessionEvent, frozen=True, kw_only=True, tag="confirmation.given"):
    """An allowed person approved the plan (or `auto` approval applied)."""

    by: str
    auto: bool = False


class ConfirmationRefused(SessionEvent, frozen=True, kw_only=True, tag="confirmation.refused"):
    """An answer was refused: the person may not approve, or nothing was pending."""

    by: str
    reason: str


class ConfirmationCancelled(SessionEvent, frozen=True, kw_only=True, tag="confirmation.cancelled"):
    """An allowed person cancelled the pending plan; nothing runs."""

    by: str


class ConfirmationExpired(SessionEvent, frozen=True, kw_only=True, tag="confirmation.expired"):
    """Nobody answered before the approval expired; nothing runs."""


class PermissionAnswered(SessionEvent, frozen=True, kw_only=True, tag="permission.answered"):
    """Someone answered a relayed permission question (typed or with a button); the gate checks who."""

    permission_id: str
    by: str
    allowed: bool
    message_id: str


class PlanRevised(SessionEvent, frozen=True, kw_only=True, tag="plan.revised"):
    """While a plan waited for approval the requester asked for changes; the planner plans again."""

    by: str
    text: str
    message_id: str


class CancelRequested(SessionEvent, frozen=True, kw_only=True, tag="request.cancel_requested"):
    """Someone asked to stop the running request; the supervisor stops its agents."""

    by: str


class ReplyPosted(SessionEvent, frozen=True, kw_only=True, tag="reply.posted"):
    """A channel posted (or updated) a chat message rendering the event `in_reply_to`."""

    channel: str
    in_reply_to: str
    chat_ref: str = ""
