"""What the bot sends: messages (HTML, split at 4096), edits, Approve/Cancel buttons, quick replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import AiogramError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from aiogram.utils.backoff import BackoffConfig

from claude_tunnels.channels.settled import settled as settled_plan
from claude_tunnels.channels.telegram.addressing import ACTIONS, QUESTION_ACTIONS, Place, callback_data, place_of, question_callback
from claude_tunnels.channels.telegram.calls import TelegramChannelError, call, describe
from claude_tunnels.channels.telegram.changes import changes_keyboard
from claude_tunnels.channels.telegram.markup import escape, split_html, to_html, visible
from claude_tunnels.config.settings import TelegramChannelSettings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationCancelled, ConfirmationExpired, ConfirmationGiven, PlanRevised
from claude_tunnels.events.execution import PermissionDecided, RequestCancelled, RequestCompleted, RequestFailed

log = logging.getLogger(__name__)

T = TypeVar("T")
_BUTTONS_SETTLED = (ConfirmationGiven, ConfirmationCancelled, ConfirmationExpired, PlanRevised,
                    RequestCompleted, RequestFailed, RequestCancelled)
"""After these, a plan's Approve/Cancel buttons mean nothing any more: they are removed."""
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class Outbox:
    """Sends to the conversations of one bot. Ordering per conversation is the caller's (`ChatChannel`)."""

    def __init__(self, bot: Bot, settings: TelegramChannelSettings, *, token: str, backoff: BackoffConfig) -> None:
        self.bot = bot
        self.settings = settings
        self._token = token
        self._backoff = backoff
        self.last_inbound: dict[str, int] = {}
        """Session key -> the person's latest message there; in groups the bot's answer replies to it."""
        self._buttons: dict[str, tuple[str, int, str]] = {}  # request id -> (session key, message id, its HTML)
        self.plan_messages: dict[tuple[int, int], str] = {}
        """(chat id, message id) of each part of a plan posted for approval -> its request id."""
        self._questions: dict[str, tuple[str, str, int, str]] = {}  # permission id -> (request id, session key, message id, HTML)
        self.changes: dict[str, tuple[str, int, str]] = {}  # request id -> (session key, message id, HTML) of its changes' buttons

    async def post(
        self, session_key: str, text: str, *, approval_for: tuple[str, int] | None = None,
        question_for: tuple[str, str] | None = None, changes_for: tuple[str, list[tuple[int, str]]] | None = None,
    ) -> str:
        """Send `text` as one or more messages, with Approve/Cancel buttons for `approval_for`
        (request id, plan revision), Allow/Deny for `question_for` (request id, permission id), or
        Merge / Open PR / Discard for `changes_for` (request id, (place, repository) pairs), under
        the last; return the first one's id."""
        place = place_of(session_key)
        parts = split_html(to_html(text)) or [escape("…")]
        keyboard = _keyboard(*approval_for) if approval_for else _question_keyboard(*question_for) if question_for else None
        keyboard = changes_keyboard(*changes_for) if changes_for else keyboard
        reply_to = self.last_inbound.get(session_key) if place.chat_id < 0 else None
        first: int | None = None
        for index, part in enumerate(parts):
            markup = keyboard if index == len(parts) - 1 else None
            sent = await self._send(place, part, markup, reply_to if first is None else None)
            first = first or sent.message_id
            if approval_for:
                self.plan_messages[(place.chat_id, sent.message_id)] = approval_for[0]
            if markup is not None and approval_for:
                self._buttons[approval_for[0]] = (session_key, sent.message_id, part)
            elif markup is not None and question_for:
                self._questions[question_for[1]] = (question_for[0], session_key, sent.message_id, part)
            elif markup is not None and changes_for:
                self.changes[changes_for[0]] = (session_key, sent.message_id, part)
        assert first is not None
        return str(first)

    async def edit(self, session_key: str, ref: str, text: str) -> None:
        """Replace the text of message `ref` (only what fits one message); "not modified" is fine."""
        place = place_of(session_key)
        part = (split_html(to_html(text)) or [escape("…")])[0]
        await self._edit(place, int(ref), part)

    async def settle_buttons(self, event: AnyEvent, outcome: str | None = None) -> None:
        """Remove a plan's or a question's buttons once it is decided, so nobody presses a stale one;
        a plan's question line gives way to its `outcome` (`channels.settled`)."""
        request_id = getattr(event, "request_id", None)
        settled = [p for p, (rid, *_) in self._questions.items() if rid == request_id] if isinstance(
            event, (RequestCompleted, RequestFailed, RequestCancelled)) else []
        if isinstance(event, PermissionDecided) and event.permission_id in self._questions:
            settled.append(event.permission_id)
        for permission_id in settled:
            _, session_key, message_id, part = self._questions.pop(permission_id)
            await self._edit(place_of(session_key), message_id, part)
        if isinstance(event, _BUTTONS_SETTLED):  # answered, revised or ended: a reply to it no longer answers it
            self.plan_messages = {place: rid for place, rid in self.plan_messages.items() if rid != request_id}
        if not isinstance(event, _BUTTONS_SETTLED) or request_id not in self._buttons:
            return
        session_key, message_id, part = self._buttons.pop(request_id)
        # An edit without reply_markup drops the buttons.
        await self._edit(place_of(session_key), message_id, settled_plan(part, outcome, escape))

    async def drop_changes_buttons(self, request_id: str) -> None:
        """A request's changes are decided for every repository: its message keeps only the text."""
        session_key, message_id, part = self.changes.pop(request_id)
        await self._edit(place_of(session_key), message_id, part)

    async def reply(self, message: Message, text: str) -> None:
        """Answer a person's message directly (refusals, help): not part of any conversation."""
        thread = message.message_thread_id if message.is_topic_message else None
        reply_to = message.message_id if message.chat.type != "private" else None
        await self._send(Place(message.chat.id, thread), escape(text), None, reply_to)

    async def answer(self, query_id: str, text: str, *, alert: bool = False) -> None:
        """Answer a button press (Telegram shows a spinner on the button until this is done)."""
        await self._call("answerCallbackQuery", lambda: self.bot.answer_callback_query(query_id, text=text[:200], show_alert=alert))

    # -- calls -------------------------------------------------------------------------------

    async def _send(self, place: Place, part: str, markup: InlineKeyboardMarkup | None, reply_to: int | None) -> Message:
        def send(text: str, parse_mode: str | None) -> Callable[[], Awaitable[Message]]:
            return lambda: self.bot.send_message(
                chat_id=place.chat_id, text=text, parse_mode=parse_mode, message_thread_id=place.thread_id,
                reply_markup=markup, link_preview_options=_NO_PREVIEW,
                reply_parameters=ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None,
            )

        try:
            return await self._call("sendMessage", send(part, "HTML"))
        except TelegramChannelError as err:
            if "can't parse entities" not in str(err):
                raise
            # Our escaping should make this impossible; if Telegram disagrees, send the plain text.
            log.warning("telegram: HTML refused (%s); sending plain text", err)
            return await self._call("sendMessage", send(visible(part), None))

    async def _edit(self, place: Place, message_id: int, part: str) -> None:
        try:
            await self._call("editMessageText", lambda: self.bot.edit_message_text(
                text=part, chat_id=place.chat_id, message_id=message_id, parse_mode="HTML", link_preview_options=_NO_PREVIEW,
            ))
        except TelegramChannelError as err:
            if "message is not modified" not in str(err):
                raise

    async def _call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """`calls.call`, with what is left of aiogram's errors turned into ours (and the token masked)."""
        try:
            return await call(what, make, token=self._token, backoff=self._backoff)
        except AiogramError as err:
            raise TelegramChannelError(f"{what} failed: {describe(err, self._token)}") from None


def _keyboard(request_id: str, revision: int) -> InlineKeyboardMarkup | None:
    buttons = [InlineKeyboardButton(text=label, callback_data=data)
               for action, label in ACTIONS.items() if (data := callback_data(action, request_id, revision))]
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if len(buttons) == len(ACTIONS) else None


def _question_keyboard(request_id: str, permission_id: str) -> InlineKeyboardMarkup | None:
    buttons = [InlineKeyboardButton(text=label, callback_data=data)
               for action, (label, _) in QUESTION_ACTIONS.items() if (data := question_callback(action, request_id, permission_id))]
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if len(buttons) == len(QUESTION_ACTIONS) else None
