"""The Telegram channel: long polling in, Bot API calls out, one conversation per chat (topic, user)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message, Update, User
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiogram.utils.token import TokenValidationError

from claude_tunnels.channels.base import CHANGES_SETTLED, ChatChannel
from claude_tunnels.channels.names import DisplayNames
from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.channels.settled import outcome
from claude_tunnels.channels.telegram.addressing import (
    ACTIONS,
    QUESTION_ACTIONS,
    parse_callback,
    parse_question_callback,
    read_message,
    read_press,
    read_question_press,
    replied_plan,
)
from claude_tunnels.channels.telegram.calls import TelegramChannelError, describe
from claude_tunnels.channels.telegram.changes import CHANGES_ACTIONS, parse_changes_callback, read_changes_press
from claude_tunnels.channels.telegram.outbound import Outbox
from claude_tunnels.channels.telegram.polling import poll, who_am_i
from claude_tunnels.config.credentials import Secret, load_credentials
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.config.settings import TelegramChannelSettings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.log import EventLogError

log = logging.getLogger(__name__)

ENV_KEYS = {"bot_token": "TELEGRAM_BOT_TOKEN"}
"""Credential key -> the environment variable that overrides `ARCHIVE/telegram/credentials`."""
DEFAULT_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1)


class TelegramChannel(ChatChannel):
    """Connects Telegram (private chats; groups when the bot is mentioned or replied to) to an orchestrator.

    `async with TelegramChannel(...)` (or `start()` / `stop()`) polls for updates until the end.
    Every message and button press is recorded before Telegram is told it arrived; replies are
    Telegram HTML, split at 4096 characters, retried after 429s and network errors.
    """

    name = "telegram"

    def __init__(
        self, orchestrator: OrchestratorPort, settings: TelegramChannelSettings, *, token: str, approvers: Sequence[str],
        polling_timeout: int = 10, backoff: BackoffConfig = DEFAULT_BACKOFF,
    ) -> None:
        server = TelegramAPIServer.from_base(settings.api_url) if settings.api_url else None
        try:  # before the base class subscribes this channel to the orchestrator's events
            self.bot = Bot(token=token, session=AiohttpSession(api=server) if server else AiohttpSession())
        except TokenValidationError:
            raise TelegramChannelError(
                "the bot token is malformed (it looks like 123456:ABC-...); check `bot_token` in "
                "ARCHIVE/telegram/credentials or TELEGRAM_BOT_TOKEN"
            ) from None
        self._stopped = False
        super().__init__(orchestrator)
        self.settings = settings
        self.approvers = list(approvers)
        self.polling_timeout = polling_timeout
        self.backoff = backoff
        self._token = Secret(token)
        self.me: User | None = None
        self.outbox = Outbox(self.bot, settings, token=token, backoff=backoff)
        self.names = DisplayNames(self.name)  # learned from each message: Telegram sends the sender's names
        self._poller: asyncio.Future[None] | None = None
        self._chores: set[asyncio.Future[None]] = set()

    @classmethod
    def from_settings(
        cls, loaded: LoadedSettings, orchestrator: OrchestratorPort, *, env: Mapping[str, str] | None = None,
        polling_timeout: int = 10, backoff: BackoffConfig = DEFAULT_BACKOFF,
    ) -> TelegramChannel:
        """The channel of `channels.telegram`, with `bot_token` from ARCHIVE/telegram/credentials
        (TELEGRAM_BOT_TOKEN in `env`, default the process environment, wins)."""
        credentials = load_credentials(loaded.archive_dir, "telegram", env=os.environ if env is None else env, env_keys=ENV_KEYS)
        return cls(
            orchestrator, loaded.settings.channels.telegram, token=credentials.require("bot_token").reveal(),
            approvers=loaded.settings.approvers, polling_timeout=polling_timeout, backoff=backoff,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling in the background.

        Raises `TelegramChannelError` at once when Telegram refuses the token. When Telegram cannot
        be reached, it does not wait: the background task keeps trying (aiogram's own
        `start_polling` would give up when its first getMe fails).
        """
        if self._poller is not None:
            return
        self.me = await who_am_i(self.bot, backoff=self.backoff, token=self._token.reveal(), patient=False)
        # A failure of the polling is logged by the task group when it happens, and raised by stop().
        self._poller = self.orchestrator.background.start(self._run(), name="telegram-polling")

    async def _run(self) -> None:
        token = self._token.reveal()
        self.me = self.me or await who_am_i(self.bot, backoff=self.backoff, token=token)
        await poll(self.bot, self._handle, timeout=self.polling_timeout, backoff=self.backoff, token=token)

    async def stop(self) -> None:
        """Stop polling and the outboxes; re-raise what ended the polling early, if anything did."""
        poller, self._poller, self._stopped = self._poller, None, True
        failure: BaseException | None = None
        if poller is not None:
            if not poller.done():
                poller.cancel()
            await asyncio.wait([poller])
            failure = None if poller.cancelled() else poller.exception()
        for chore in self._chores:
            chore.cancel()
        if self._chores:
            await asyncio.wait(list(self._chores))
        await self.close()
        await self.bot.session.close()
        if failure is not None:
            raise failure

    async def __aenter__(self) -> TelegramChannel:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    # -- inbound -----------------------------------------------------------------------------

    async def _handle(self, update: Update) -> None:
        """Handle one update; return only once what it says is recorded (see `polling`)."""
        delays = Backoff(self.backoff)
        while True:
            try:
                if update.message is not None:
                    await self._on_message(update.message)
                elif update.callback_query is not None:
                    await self._on_callback(update.callback_query)
                return
            except EventLogError as err:  # the store is unreachable: keep the update until it is back
                log.warning("telegram: update %d not recorded yet (%s); trying again", update.update_id, err)
                await delays.asleep()
            except Exception:
                log.exception("telegram: update %d could not be handled; skipped", update.update_id)
                return

    async def _on_message(self, message: Message) -> None:
        me = self.me
        assert me is not None  # start() learns it before polling begins
        reading = read_message(message, self.settings, username=me.username or "", bot_id=me.id)
        if reading.kind in ("refuse", "help"):
            self._chore(self.outbox.reply(message, reading.text))
        if reading.kind != "record" or message.from_user is None:
            return
        user = message.from_user
        self.names.learn(str(user.id), display_name(user))
        key, request_id = reading.session_key, None
        if message.chat.type != "private":
            # A reply to a plan waiting for approval answers that plan, in its conversation (an
            # approver's own conversation in the group holds no plan).
            plan = replied_plan(message, me.id, self.orchestrator.sessions.sessions, self.outbox.plan_messages)
            if plan is not None:
                key, request_id = plan
        await self.receive(
            session_key=key, sender=f"telegram:{user.id}", text=reading.text, request_id=request_id,
            message_ref=f"{message.chat.id}:{message.message_id}", sent_at=_utc(message.date), sender_name=user.full_name,
        )
        self.outbox.last_inbound[key] = message.message_id

    async def _on_callback(self, query: CallbackQuery) -> None:
        self.names.learn(str(query.from_user.id), display_name(query.from_user))
        if parse_question_callback(query.data) is not None:
            await self._on_question_press(query)
            return
        if parse_changes_callback(query.data) is not None:
            await self._on_changes_press(query)
            return
        parsed, message = parse_callback(query.data), query.message
        request = self.orchestrator.requests.get(parsed[1]) if parsed else None
        if request is not None and not self.owns(request.session_key):
            request = None
        press = read_press(query.data, query.from_user.id, message.chat.id if message else 0, request, self.settings, self.approvers)
        if press.action is not None and request is not None and message is not None:
            # A button press has no date of its own. The date of the message under it is the same
            # on every delivery, so a redelivered press gets the same event id and is stored once.
            date = message.date if isinstance(message, Message) else None
            await self.receive(
                session_key=request.session_key, sender=f"telegram:{query.from_user.id}", text=f"[{ACTIONS[press.action]}]",
                message_ref=f"cb:{query.id}", sent_at=_utc(date) if date else self.orchestrator.clock.now(),
                sender_name=query.from_user.full_name, action=press.action, request_id=request.request_id,
            )
        self._chore(self.outbox.answer(query.id, self.names.shown(press.answer), alert=press.alert))

    async def _on_question_press(self, query: CallbackQuery) -> None:
        parsed, message = parse_question_callback(query.data), query.message
        request = self.orchestrator.requests.get(parsed[1]) if parsed else None
        if request is not None and not self.owns(request.session_key):
            request = None
        chat_id = message.chat.id if message else 0
        press = read_question_press(query.data, query.from_user.id, chat_id, request, self.settings, self.approvers)
        if press.action is not None and request is not None and parsed is not None:
            date = message.date if isinstance(message, Message) else None
            await self.receive(
                session_key=request.session_key, sender=f"telegram:{query.from_user.id}",
                text=f"[{QUESTION_ACTIONS[parsed[0]][0]}]", message_ref=f"cb:{query.id}",
                sent_at=_utc(date) if date else self.orchestrator.clock.now(), sender_name=query.from_user.full_name,
                action=press.action, request_id=request.request_id, permission_id=parsed[2],
            )
        self._chore(self.outbox.answer(query.id, self.names.shown(press.answer), alert=press.alert))

    async def _on_changes_press(self, query: CallbackQuery) -> None:
        parsed, message = parse_changes_callback(query.data), query.message
        request = self.orchestrator.requests.get(parsed[1]) if parsed else None
        if request is not None and not self.owns(request.session_key):
            request = None
        chat_id = message.chat.id if message else 0
        press, repo = read_changes_press(query.data, query.from_user.id, chat_id, request, self.settings, self.approvers)
        if press.action is not None and request is not None:
            date = message.date if isinstance(message, Message) else None
            await self.receive(
                session_key=request.session_key, sender=f"telegram:{query.from_user.id}", text=f"[{CHANGES_ACTIONS[press.action][0]} {repo}]",
                message_ref=f"cb:{query.id}", sent_at=_utc(date) if date else self.orchestrator.clock.now(),
                sender_name=query.from_user.full_name, action=press.action, request_id=request.request_id, repo=repo,
            )
        self._chore(self.outbox.answer(query.id, press.answer, alert=press.alert))

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a reply in the background: polling never waits for Telegram to accept a send."""
        task = self.orchestrator.background.start(self._quietly(work), name="telegram reply")
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _quietly(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as err:
            # an event, nothing waits for it (the outbox already retried 429s and network errors)
            log.warning("telegram: reply failed: %s", describe(err, self._token.reveal()))

    # -- outbound ----------------------------------------------------------------------------

    async def post(
        self, session_key: str, text: str, *, approval_for: str | None = None, question_for: tuple[str, str] | None = None,
        changes_for: tuple[str, list[str]] | None = None,
    ) -> str:
        """Send `text` (split if long) to the conversation; buttons go under the last part."""
        request = self.orchestrator.requests.get(approval_for) if approval_for else None
        approval = (approval_for, request.revision if request else 0) if approval_for else None
        changes = None
        if changes_for is not None and (proposed := self.orchestrator.requests.get(changes_for[0])) is not None:
            places = list(proposed.changes)  # a button names its repository by its place in the proposal
            changes = (changes_for[0], [(places.index(repo), repo) for repo in changes_for[1] if repo in places])
        return await self.outbox.post(session_key, self.names.shown(text), approval_for=approval, question_for=question_for, changes_for=changes)

    async def edit(self, session_key: str, ref: str, text: str) -> None:
        """Replace a message's text; an edit that changes nothing is fine."""
        await self.outbox.edit(session_key, ref, self.names.shown(text))

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        if not self._stopped:  # an outbox worker started after stop() would outlive the channel
            super()._on_event(seq, event)

    async def _show(self, event: AnyEvent) -> str | None:
        ref = await super()._show(event)
        line = outcome(event)
        await self.outbox.settle_buttons(event, self.names.shown(line) if line else None)
        request_id = getattr(event, "request_id", None) or ""
        if isinstance(event, CHANGES_SETTLED) and request_id in self.outbox.changes and self.changes_settled(request_id):
            await self.outbox.drop_changes_buttons(request_id)
        return ref


def display_name(user: User) -> str:
    """How a person is shown: their first name, and their @username when they have one."""
    return f"{user.first_name} (@{user.username})" if user.username else user.first_name


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
