"""What a Slack event or button press means for the orchestrator. Pure: no I/O.

A thread is a conversation: `slack:<team>:<channel>:<thread root ts>`. A top-level message (in a
channel or a DM) starts a thread keyed by its own `ts`; replies carry the root in `thread_ts`.
One exception: in a DM, a top-level answer to a plan ("yes", "cancel", "done") goes to the
thread of the plan it answers when that is unambiguous (`answer_target`).
The same message delivered as `message` and as `app_mention`, or redelivered by Slack, yields the
same `message_ref` and `sent_at`, so the orchestrator stores it once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from claude_tunnels.actors.intents import answers_a_plan, intent_of
from claude_tunnels.channels.slack.blocks import ACTIONS, CHANGES_ACTIONS, QUESTION_ACTIONS
from claude_tunnels.channels.slack.mrkdwn import unescape
from claude_tunnels.config.settings import SlackChannelSettings
from claude_tunnels.projections.sessions import SessionState

PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")
"""Message subtypes written by a person; edits, deletions, joins and bot messages are not."""

_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class Inbound:
    """A person's message or button press, ready for `ChatChannel.receive`."""

    user: str
    channel: str
    thread_ts: str
    session_key: str
    text: str
    message_ref: str
    sent_at: datetime
    action: str | None = None
    request_id: str | None = None
    permission_id: str | None = None
    repo: str | None = None

    @property
    def sender(self) -> str:
        """The qualified sender id, as approvers are written: `slack:<user id>`."""
        return f"slack:{self.user}"


def session_key(team: str, channel: str, thread_ts: str) -> str:
    """The conversation of one Slack thread."""
    return f"slack:{team}:{channel}:{thread_ts}"


def parse_session_key(key: str) -> tuple[str, str, str]:
    """(team, channel, thread_ts) of a key made by `session_key`."""
    kind, team, channel, thread_ts = key.split(":", 3)
    if kind != "slack" or not channel or not thread_ts:
        raise ValueError(f"{key!r} is not a Slack session key (slack:<team>:<channel>:<thread_ts>)")
    return team, channel, thread_ts


def sent_at(ts: str) -> datetime:
    """The moment of a Slack timestamp (`"1700000000.000100"`)."""
    return datetime.fromtimestamp(float(ts), UTC)


def mentions(text: str, bot_user_id: str) -> bool:
    """Whether `text` mentions the bot."""
    return bool(bot_user_id) and f"<@{bot_user_id}" in text


def plain_text(text: str, bot_user_id: str) -> str:
    """What the person typed: the leading bot mention stripped, links and escapes undone."""
    if bot_user_id:
        text = re.sub(rf"^\s*<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[\s:,]*", "", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    return unescape(text).strip()


def from_event(event: Mapping[str, Any], *, team: str, bot_user_id: str) -> Inbound | None:
    """A `message` or `app_mention` event as an `Inbound`, or None when no person wrote it."""
    if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return None
    user, channel, ts = str(event["user"]), str(event.get("channel", "")), str(event.get("ts", ""))
    if user == bot_user_id or not channel or not ts:
        return None
    thread_ts = str(event.get("thread_ts") or ts)
    return Inbound(
        user=user, channel=channel, thread_ts=thread_ts, session_key=session_key(team, channel, thread_ts),
        text=plain_text(str(event.get("text") or ""), bot_user_id), message_ref=f"{channel}:{ts}", sent_at=sent_at(ts),
    )


_OPEN = ("planning", "pending_plan_approval", "executing", "pending_confirmation")


def answer_target(inbound: Inbound, sessions: Mapping[str, SessionState]) -> tuple[Inbound, str | None]:
    """Where a top-level DM message goes, and what to tell instead of recording it (or None).

    An answer typed outside the thread it answers goes to that thread, carrying its request's
    id (a plan answered or replaced meanwhile is not answered): a "yes" when exactly one plan
    waits for approval in this DM; a "cancel" or "done" when exactly one request is open here
    (its thread's conversation decides what the word does there). When several could be meant,
    the person is told to answer in the thread instead. Anything else starts its own thread."""
    intent = intent_of(inbound.text)
    if not answers_a_plan(intent):
        return inbound, None
    team, _, _ = parse_session_key(inbound.session_key)
    prefix = session_key(team, inbound.channel, "")
    wanted = ("pending_plan_approval",) if intent == "approve" else _OPEN
    candidates = [
        (key, state) for key, state in sessions.items()
        if key.startswith(prefix) and key != inbound.session_key and state.status in wanted and state.request is not None
    ]
    if not candidates:
        return inbound, None
    if len(candidates) > 1:
        waiting = "plans wait for an answer" if intent == "approve" else "requests are open"
        return inbound, f"{len(candidates)} {waiting} in this conversation; answer in the thread of the one you mean."
    key, state = candidates[0]
    assert state.request is not None
    return replace(inbound, session_key=key, thread_ts=parse_session_key(key)[2], request_id=state.request.request_id), None


def from_click(body: Mapping[str, Any], *, team: str) -> Inbound | None:
    """An Approve / Cancel (Allow / Deny, Merge / Open PR / Discard) button press as an `Inbound`
    (`action`, `request_id`, and for a question `permission_id`, for changes `repo` set), or None."""
    actions = body.get("actions") or []
    if not actions or actions[0].get("action_id") not in ACTIONS:
        return None
    action = actions[0]
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
    message = body.get("message") or {}
    root = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts") or message.get("ts")
    action_ts = str(action.get("action_ts") or "")
    if not (user and channel and root and action_ts and action.get("value")):
        return None
    request_id, permission_id, repo = str(action["value"]), None, None
    if action["action_id"] in QUESTION_ACTIONS:
        request_id, _, permission_id = request_id.partition(":")
        if not (request_id and permission_id):
            return None
    elif action["action_id"] in CHANGES_ACTIONS:
        request_id, _, repo = request_id.partition(":")
        if not (request_id and repo):
            return None
    return Inbound(
        user=user, channel=channel, thread_ts=str(root), session_key=session_key(team, channel, str(root)),
        text=ACTIONS[action["action_id"]], message_ref=f"{channel}:{action_ts}:{user}", sent_at=sent_at(action_ts),
        action=ACTIONS[action["action_id"]], request_id=request_id, permission_id=permission_id, repo=repo,
    )


class Allowlist:
    """Who may use the bot, and where: `allowed_users` (unless `allow_everyone`), narrowed by
    `allowed_channels` when that is not empty (a DM's channel id counts like any other)."""

    def __init__(self, settings: SlackChannelSettings) -> None:
        self._users = frozenset(settings.allowed_users)
        self._channels = frozenset(settings.allowed_channels)
        self._everyone = settings.allow_everyone

    def permits(self, user: str, channel: str) -> bool:
        """Whether `user` may talk to the bot in `channel`."""
        return self.refusal(user, channel) is None

    def refusal(self, user: str, channel: str) -> str | None:
        """Why `user` may not talk to the bot in `channel` (a sentence for them), or None when they may."""
        if not (self._everyone or user in self._users):
            return f"Sorry, you are not allowed to use this bot. Ask its operator to add your Slack user id ({user})."
        if self._channels and channel not in self._channels:
            where = "in direct messages" if channel.startswith("D") else "in this channel"
            return (f"Sorry, this bot does not answer {where} ({channel}). Ask its operator to add {channel} to "
                    "channels.slack.allowed_channels, or write where it answers.")
        return None
