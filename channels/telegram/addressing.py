"""Who may talk to the bot, which conversation a message belongs to, and what the buttons carry. Pure.

Session keys: `telegram:<chat id>` for a private chat; in a group `telegram:<chat id>`, then
`:t<topic id>` for a forum topic, then `:u<user id>` when each user has their own conversation
(the letters keep the key readable and unambiguous: a topic id and a user id are both numbers).
A reply to a plan waiting for approval belongs to that plan's conversation, whoever sends it
(`replied_plan`): an approver's "yes" in a group reaches the requester's plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aiogram.types import Message, MessageEntity

from claude_tunnels.actors.confirm_policy import may_approve
from claude_tunnels.channels.render import plan_text
from claude_tunnels.config.settings import TelegramChannelSettings
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.sessions import SessionState

ACTIONS = {"approve": "Approve", "cancel": "Cancel"}
"""Button action -> its label."""
QUESTION_ACTIONS = {"allow": ("Allow", "approve"), "deny": ("Deny", "cancel")}
"""A permission question's button action -> its label and the `MessageReceived.action` it stands for."""
MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Place:
    """Where a conversation's messages go: a chat, and a forum topic in it."""

    chat_id: int
    thread_id: int | None = None


@dataclass(frozen=True)
class Reading:
    """What to do with a person's message: ignore it, refuse them, show the help, or record `text`."""

    kind: Literal["ignore", "refuse", "help", "record"]
    text: str = ""
    session_key: str = ""


HELP = ("Send me a request about your projects. I answer with a plan; approve it with the button or by "
        "replying yes, or say what to change. Say status to see where things are, cancel to stop.")


def read_message(message: Message, settings: TelegramChannelSettings, *, username: str, bot_id: int) -> Reading:
    """Decide what a message means for the channel (before any conversation logic)."""
    user = message.from_user
    if user is None or user.is_bot:
        return Reading("ignore")
    text = addressed_text(message, username, bot_id)
    if text is None:
        return Reading("ignore")  # group chatter not meant for the bot; not even a refusal
    refused = refusal(user.id, message.chat.id, settings)
    if refused:
        return Reading("refuse", refused)
    if text.lower() in ("start", "help"):
        return Reading("help", HELP)
    return Reading("record", text, key_of_message(message, settings)) if text else Reading("ignore")


def session_key(chat_id: int, *, thread_id: int | None = None, user_id: int | None = None) -> str:
    """The conversation of a chat, a topic in it, and (in a group with per-user sessions) a user."""
    key = f"telegram:{chat_id}"
    if thread_id is not None:
        key += f":t{thread_id}"
    if user_id is not None:
        key += f":u{user_id}"
    return key


def place_of(key: str) -> Place:
    """The chat (and topic) of a session key made by `session_key`; ValueError for anything else."""
    channel, _, rest = key.partition(":")
    parts = rest.split(":")
    if channel != "telegram" or not parts[0].lstrip("-").isdigit():
        raise ValueError(f"not a Telegram session key: {key!r}")
    thread = next((int(part[1:]) for part in parts[1:] if part.startswith("t") and part[1:].isdigit()), None)
    return Place(int(parts[0]), thread)


def key_of_message(message: Message, settings: TelegramChannelSettings) -> str:
    """The conversation a person's message belongs to."""
    if message.chat.type == "private":
        return session_key(message.chat.id)
    thread = message.message_thread_id if message.is_topic_message else None
    user = message.from_user.id if message.from_user and settings.per_user_sessions_in_groups else None
    return session_key(message.chat.id, thread_id=thread, user_id=user)


def replied_plan(
    message: Message, bot_id: int, sessions: Mapping[str, SessionState], plan_messages: Mapping[tuple[int, int], str],
) -> tuple[str, str] | None:
    """(session key, request id) of the plan waiting for approval that `message` replies to, or
    None. The plan message is known by its id (`plan_messages`: (chat id, message id) -> request
    id, for the plans this process posted and that still wait) or, after a restart, by its text:
    the plan as it stands now (an earlier revision's message answers nothing). Either way only a
    plan of this chat and topic counts."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
        return None
    here = Place(message.chat.id, message.message_thread_id if message.is_topic_message else None)
    waiting = {
        state.request.request_id: (key, state.request.plan) for key, state in sessions.items()
        if key.startswith(f"telegram:{message.chat.id}") and state.status == "pending_plan_approval"
        and state.request is not None and _place(key) == here
    }
    known = plan_messages.get((message.chat.id, replied.message_id))
    if known in waiting:
        return waiting[known][0], known
    shown = " ".join((replied.text or replied.caption or "").split())
    if not shown:
        return None
    named = [
        (key, request_id) for request_id, (key, plan) in waiting.items()
        if plan is not None and (text := " ".join(plan_text(plan, request_id).split())) and (shown.startswith(text) or text.startswith(shown))
    ]
    return named[0] if len(named) == 1 else None


def _place(key: str) -> Place | None:
    try:
        return place_of(key)
    except ValueError:
        return None


def refusal(user_id: int, chat_id: int, settings: TelegramChannelSettings) -> str | None:
    """Why this user may not use the bot here (a sentence for them), or None when they may."""
    if not settings.allow_everyone and user_id not in settings.allowed_users:
        return f"Sorry, you are not allowed to use this bot. Ask its owner to add your Telegram user id {user_id}."
    if settings.allowed_chats and chat_id not in settings.allowed_chats:
        return f"Sorry, this bot is not enabled in this chat (chat id {chat_id})."
    return None


def addressed_text(message: Message, username: str, bot_id: int) -> str | None:
    """The text meant for the bot, without the `@botname` mention; None when it is not for the bot.

    Private chats are always for the bot; in groups only a mention of the bot, a `/command@botname`
    or a reply to one of the bot's messages is. `/status` becomes `status`.
    """
    text = message.text if message.text is not None else message.caption
    entities = (message.entities if message.text is not None else message.caption_entities) or []
    if text is None:
        return None
    mine = [e for e in entities if _is_mention_of(e, text, username, bot_id)]
    replied = message.reply_to_message
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
    command = _command(entities, text)
    if message.chat.type != "private" and not mine and not to_bot and not _command_for(command, username):
        return None
    units = text.encode("utf-16-le")
    for entity in sorted(mine, key=lambda e: e.offset, reverse=True):
        units = units[: entity.offset * 2] + units[(entity.offset + entity.length) * 2 :]
    text = units.decode("utf-16-le")
    if command:
        name = command.split("@", 1)[0]
        text = text.replace(command, name[1:], 1)
    return " ".join(text.split())


def _is_mention_of(entity: MessageEntity, text: str, username: str, bot_id: int) -> bool:
    if entity.type == "text_mention":
        return entity.user is not None and entity.user.id == bot_id
    return entity.type == "mention" and entity.extract_from(text).lower() == f"@{username}".lower()


def _command(entities: list[MessageEntity], text: str) -> str | None:
    first = next((e for e in entities if e.type == "bot_command" and e.offset == 0), None)
    return first.extract_from(text) if first else None


def _command_for(command: str | None, username: str) -> bool:
    return command is not None and command.lower().endswith(f"@{username}".lower())


def callback_data(action: str, request_id: str, revision: int) -> str | None:
    """`approve:<request id>:<plan revision>`, or None when it would not fit Telegram's 64 bytes."""
    data = f"{action}:{request_id}:{revision}"
    return data if action in ACTIONS and len(data.encode()) <= MAX_CALLBACK_BYTES else None


def parse_callback(data: str | None) -> tuple[str, str, int] | None:
    """(action, request id, plan revision) of a button, or None for data this bot did not make."""
    action, request_id, revision = ((data or "").split(":") + ["", ""])[:3]
    if action not in ACTIONS or not request_id or not revision.isdigit():
        return None
    return action, request_id, int(revision)


def question_callback(action: str, request_id: str, permission_id: str) -> str | None:
    """`allow:<request id>:<permission id>`, or None when it would not fit Telegram's 64 bytes."""
    data = f"{action}:{request_id}:{permission_id}"
    return data if action in QUESTION_ACTIONS and len(data.encode()) <= MAX_CALLBACK_BYTES else None


def parse_question_callback(data: str | None) -> tuple[str, str, str] | None:
    """(action, request id, permission id) of a question's button, or None."""
    action, request_id, permission_id = ((data or "").split(":") + ["", ""])[:3]
    if action not in QUESTION_ACTIONS or not request_id or not permission_id:
        return None
    return action, request_id, permission_id


@dataclass(frozen=True)
class Press:
    """What to do with a button press: what to answer, and whether to record it (`action` set)."""

    answer: str
    alert: bool = True
    action: str | None = None


def read_press(
    data: str | None, user_id: int, chat_id: int, request: RequestState | None,
    settings: TelegramChannelSettings, approvers: Sequence[str],
) -> Press:
    """Decide about a press on an Approve/Cancel button under the plan of `request`.

    A press on the buttons of a plan that is no longer waiting (answered, revised, expired) is
    answered but not recorded: it must never approve a plan its presser did not see. A press by
    someone who may not answer is recorded, so the gate records the refusal.
    """
    refused = refusal(user_id, chat_id, settings)
    if refused:
        return Press(refused)
    parsed = parse_callback(data)
    if parsed is None or request is None or parsed[1] != request.request_id:
        return Press("This button no longer works; answer in the chat instead.")
    action, _, revision = parsed
    if request.status != "awaiting_approval" or request.revision != revision:
        return Press("This plan is no longer waiting for an answer.")
    if not may_approve(f"telegram:{user_id}", request.requester, approvers):
        return Press(f"Only {request.requester} or an approver can answer this plan.", action=action)
    return Press("Approving…" if action == "approve" else "Cancelling…", alert=False, action=action)


def read_question_press(
    data: str | None, user_id: int, chat_id: int, request: RequestState | None,
    settings: TelegramChannelSettings, approvers: Sequence[str],
) -> Press:
    """Decide about a press on a permission question's Allow/Deny button (`action` is then
    `approve` or `cancel`). A press on a question already answered is answered but not recorded."""
    refused = refusal(user_id, chat_id, settings)
    if refused:
        return Press(refused)
    parsed = parse_question_callback(data)
    question = request.questions.get(parsed[2]) if parsed and request is not None else None
    if parsed is None or request is None or question is None:
        return Press("This button no longer works; answer in the chat instead.")
    if question.decided:
        return Press(f"This question was already answered ({'allowed' if question.allowed else 'denied'}).")
    if not may_approve(f"telegram:{user_id}", request.requester, approvers):
        return Press(f"Only {request.requester} or an approver can answer this question.")
    label, action = QUESTION_ACTIONS[parsed[0]]
    return Press(f"{label}ing…" if parsed[0] == "allow" else "Denying…", alert=False, action=action)
