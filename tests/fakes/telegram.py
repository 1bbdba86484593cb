"""A local fake of the Telegram Bot API, for driving the real aiogram 3 offline.

`FakeTelegram` is a real aiohttp server on 127.0.0.1 (port 0). Point aiogram at it with
`AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))`. Wire formats follow
/work/shared/reference/slack-telegram.md (section 2): form-encoded POSTs, every value a string,
nested objects as JSON strings.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.telegram_markup import TelegramRefusal, auto_entities, reply_markup, visible_text

BOT_USERNAME = "fake_test_bot"
ALL_UPDATE_TYPES = ("message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
                    "inline_query", "chosen_inline_result", "my_chat_member", "chat_join_request")
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message")
STALE_QUERY = "query is too old and response timeout expired or query ID is invalid"
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


class _Drop(Exception):
    """Close the connection without answering (network down)."""


@dataclass
class TgMessage:
    """A message the bot sent, as the fake stores it; edits change it in place."""

    chat_id: int
    message_id: int
    text: str  # visible text, after entity parsing
    raw_text: str  # as sent
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    history: list[str] = field(default_factory=list)  # earlier visible texts, oldest first
    deleted: bool = False


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    times: int


class FakeTelegram:
    """The Bot API on a loopback port; use as `async with FakeTelegram() as tg:`."""

    def __init__(
        self, token: str = "123456789:AAFakeTokenForOfflineTests_abcdefghij", *, strict_html: bool = True
    ) -> None:
        self.token = token
        self.strict_html = strict_html  # refuse a bare "&" (the real server keeps it literally)
        self.bot_user = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "FakeBot",
                         "username": BOT_USERNAME}
        self.messages: list[TgMessage] = []
        self.offsets: list[int] = []  # each new offset the client confirmed, increasing
        self.calls: list[tuple[str, dict[str, str]]] = []  # (method, params) for every authorised call
        self.callback_answers: list[dict[str, str]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.dropped = 0  # requests cut off by network_down()
        self.allowed_updates: list[str] = list(ALL_UPDATE_TYPES)
        self._queue: list[dict[str, Any]] = []  # updates not yet confirmed
        self._stored: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message id) -> API Message
        self._chats: dict[int, dict[str, Any]] = {}
        self._msg_ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(100_001)
        self._clock = itertools.count(1_700_000_000)
        self._open_callbacks: set[str] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._poller: object | None = None
        self._down = False
        self._closing = False
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        await self._notify()  # release any long poll still waiting
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """Server root for `TelegramAPIServer.from_base(...)`, e.g. `http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self._port}"

    # -- recorded state --------------------------------------------------------------------------------------

    def messages_in(self, chat_id: int) -> list[TgMessage]:
        """Messages the bot sent to `chat_id`, oldest first (deleted ones included, flagged)."""
        return [m for m in self.messages if m.chat_id == chat_id]

    def calls_to(self, method: str) -> list[dict[str, str]]:
        """The raw (string) parameters of every call to `method`, in order."""
        return [params for name, params in self.calls if name == method]

    async def wait_for_message(
        self, predicate: Callable[[TgMessage], bool] = lambda _: True, timeout: float = 5.0
    ) -> TgMessage:
        """The first bot message (current state) matching `predicate`; waits for it."""
        found: list[TgMessage] = []

        def match() -> bool:
            found[:] = [m for m in self.messages if predicate(m)][:1]
            return bool(found)

        await self._wait(match, timeout, lambda: f"no matching message; sent so far: {self.messages!r}")
        return found[0]

    async def wait_for(self, ready: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `ready()` holds; it is re-checked whenever the fake's state changes."""
        await self._wait(ready, timeout, lambda: f"condition never held; calls: {[name for name, _ in self.calls]}")

    async def wait_for_confirmed(self, update_id: int, timeout: float = 5.0) -> None:
        """Wait until the client confirmed `update_id` (sent an offset above it)."""
        await self._wait(lambda: bool(self.offsets) and self.offsets[-1] > update_id, timeout,
                         lambda: f"update {update_id} not confirmed; offsets: {self.offsets}")

    async def _wait(self, ready: Callable[[], bool], timeout: float, explain: Callable[[], str]) -> None:
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
        except TimeoutError:
            raise AssertionError(f"FakeTelegram: timed out after {timeout}s: {explain()}") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- fault knobs -----------------------------------------------------------------------------------------

    def add_fault(
        self, method: str, *, status: int = 429, retry_after: int | None = 1, times: int = 1,
        description: str | None = None,
    ) -> None:
        """Fail the next `times` calls to `method` with HTTP `status` (429 carries `parameters.retry_after`)."""
        retry_after = retry_after if status == 429 else None
        default = f"Too Many Requests: retry after {retry_after}" if status == 429 else _STATUS_TEXT.get(status, "")
        self._faults.setdefault(method, []).append(_Fault(status, description or default, retry_after, times))

    def clear_faults(self) -> None:
        """Answer every call normally again."""
        self._faults.clear()

    async def network_down(self) -> None:
        """Close every connection (including a waiting long poll) without answering, until `network_up()`."""
        self._down = True
        await self._notify()

    async def network_up(self) -> None:
        """Answer requests again."""
        self._down = False
        await self._notify()

    # -- pushing updates -------------------------------------------------------------------------------------

    async def push_update(self, raw: dict[str, Any]) -> int:
        """Queue a raw update (an `update_id` is assigned if missing); returns its update id."""
        raw.setdefault("update_id", next(self._update_ids))
        self._queue.append(raw)
        await self._notify()
        return int(raw["update_id"])

    async def push_message(
        self, chat_id: int, user_id: int, text: str, *, chat_type: str = "private",
        message_thread_id: int | None = None, reply_to_bot: bool = False, entities: list[dict[str, Any]] | None = None,
    ) -> int:
        """Queue a text message from a user; `/commands` and `@mentions` get entities unless given."""
        user = _user(user_id)
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": "Tester", "username": f"user{user_id}"}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": "Fake Group"}
            chat |= {"is_forum": True} if message_thread_id else {}
        self._chats[chat_id] = chat
        message: dict[str, Any] = {"message_id": self._next_message_id(chat_id), "from": user, "chat": chat,
                                   "date": next(self._clock), "text": text}
        entities = auto_entities(text) if entities is None else entities
        if entities:
            message["entities"] = entities
        if message_thread_id is not None:
            message |= {"message_thread_id": message_thread_id, "is_topic_message": True}
        if reply_to_bot:
            mine = [m for m in self.messages if m.chat_id == chat_id and not m.deleted
                    and (message_thread_id is None or m.message_thread_id == message_thread_id)]
            if not mine:
                raise ValueError(f"reply_to_bot: the bot has sent nothing to chat {chat_id} yet; send something first")
            message["reply_to_message"] = self._stored[(chat_id, mine[-1].message_id)]
        self._stored[(chat_id, message["message_id"])] = message
        return await self.push_update({"message": message})

    async def push_callback(self, chat_id: int, user_id: int, message_id: int, data: str) -> int:
        """Queue a `callback_query`: `user_id` pressed a button with `data` under the bot message `message_id`."""
        message = self._stored.get((chat_id, message_id))
        if message is None or message["from"]["id"] != self.bot_user["id"]:
            raise ValueError(f"push_callback: no bot message {message_id} in chat {chat_id}")
        query_id = f"cbq{next(self._update_ids)}"
        self._open_callbacks.add(query_id)
        return await self.push_update({"callback_query": {"id": query_id, "from": _user(user_id), "message": message,
                                                          "chat_instance": f"ci{chat_id}", "data": data}})

    # -- HTTP ------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            result = await self._answer(request)
        except TelegramRefusal as refusal:
            return web.json_response(refusal.body(), status=refusal.code)
        except _Drop:
            self.dropped += 1
            await self._notify()
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)  # never reaches the client
        return web.json_response({"ok": True, "result": result})

    async def _answer(self, request: web.Request) -> Any:
        if self._down:
            raise _Drop
        token, method = request.match_info["token"], request.match_info["method"]
        if not _TOKEN.match(token):
            raise TelegramRefusal(404, "Not Found")
        if token != self.token:
            raise TelegramRefusal(401, "Unauthorized")
        params: dict[str, str] = dict(request.query)
        if request.content_type == "application/json":
            params |= {k: v if isinstance(v, str) else json.dumps(v) for k, v in (await request.json()).items()}
        elif request.can_read_body:
            params |= {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.calls.append((method, params))
        await self._notify()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise TelegramRefusal(404, "Not Found")
        queue = self._faults.get(method)
        if queue:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            extra = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
            raise TelegramRefusal(fault.status, fault.description, extra)
        return await handler(params)

    # -- methods (`_m_<name>`) -------------------------------------------------------------------------------

    async def _m_getMe(self, params: dict[str, str]) -> dict[str, Any]:
        return self.bot_user | {"can_join_groups": True, "can_read_all_group_messages": False,
                                "supports_inline_queries": False}

    async def _m_deleteWebhook(self, params: dict[str, str]) -> bool:
        if params.get("drop_pending_updates") == "true":
            self._queue.clear()
        return True

    async def _m_getUpdates(self, params: dict[str, str]) -> list[dict[str, Any]]:
        offset, limit = int(params.get("offset", 0)), min(max(int(params.get("limit", 100)), 1), 100)
        if "allowed_updates" in params:
            self.allowed_updates = json.loads(params["allowed_updates"]) or list(ALL_UPDATE_TYPES)
        if offset > 0 and (not self.offsets or offset > self.offsets[-1]):
            self.offsets.append(offset)
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        me = object()
        self._poller = me  # a poll still waiting sees this and ends with 409
        await self._notify()

        def deliverable() -> list[dict[str, Any]]:
            return [u for u in self._queue if _update_type(u) in self.allowed_updates][:limit]

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(
                    lambda: bool(deliverable()) or self._poller is not me or self._down or self._closing),
                    float(params.get("timeout", 0)))
        except TimeoutError:
            pass
        if self._poller is not me:
            raise TelegramRefusal(409, CONFLICT)
        self._poller = None
        if self._down:
            raise _Drop
        return deliverable()

    async def _m_sendMessage(self, params: dict[str, str]) -> dict[str, Any]:
        chat_id = _int(params, "chat_id")
        text, markup = self._checked_text(params), reply_markup(params)
        reply = json.loads(params.get("reply_parameters", "{}"))
        legacy = params.get("reply_to_message_id")  # before Bot API 7.0
        reply_to = reply.get("message_id") or (int(legacy) if legacy else None)
        if reply_to is not None and (chat_id, reply_to) not in self._stored:
            if not reply.get("allow_sending_without_reply"):
                raise TelegramRefusal(400, "Bad Request: message to be replied not found")
            reply_to = None
        thread = int(params["message_thread_id"]) if "message_thread_id" in params else None
        record = TgMessage(chat_id, self._next_message_id(chat_id), text, params.get("text", ""),
                           params.get("parse_mode"), markup, reply_to, thread)
        api = {"message_id": record.message_id, "from": self.bot_user, "date": next(self._clock), "text": text,
               "chat": self._chats.get(chat_id, {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"})}
        if markup:
            api["reply_markup"] = markup
        if thread is not None:
            api |= {"message_thread_id": thread, "is_topic_message": True}
        if reply_to is not None:
            api["reply_to_message"] = self._stored[(chat_id, reply_to)]
        self._stored[(chat_id, record.message_id)] = api
        self.messages.append(record)
        await self._notify()
        return api

    async def _m_editMessageText(self, params: dict[str, str]) -> dict[str, Any]:
        if "inline_message_id" in params:
            raise TelegramRefusal(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id, message_id = _int(params, "chat_id"), _int(params, "message_id")
        text, markup = self._checked_text(params), reply_markup(params)
        record = self._bot_message(chat_id, message_id)
        if record is None:
            foreign = (chat_id, message_id) in self._stored
            reason = "message can't be edited" if foreign else "message to edit not found"
            raise TelegramRefusal(400, f"Bad Request: {reason}")
        if (record.text, record.raw_text, record.reply_markup) == (text, params.get("text", ""), markup):
            raise TelegramRefusal(400, NOT_MODIFIED)
        record.history.append(record.text)
        # Like the real server, an edit without reply_markup removes the inline keyboard.
        record.text, record.raw_text, record.parse_mode, record.reply_markup = (
            text, params.get("text", ""), params.get("parse_mode"), markup)
        api = self._stored[(chat_id, message_id)]
        api |= {"text": text, "edit_date": next(self._clock)}
        api.pop("reply_markup", None)
        api |= {"reply_markup": markup} if markup else {}
        await self._notify()
        return api

    async def _m_answerCallbackQuery(self, params: dict[str, str]) -> bool:
        query_id = params.get("callback_query_id", "")
        if query_id not in self._open_callbacks:
            raise TelegramRefusal(400, f"Bad Request: {STALE_QUERY}")
        self._open_callbacks.discard(query_id)
        self.callback_answers.append(params)
        await self._notify()
        return True

    async def _m_deleteMessage(self, params: dict[str, str]) -> bool:
        chat_id, message_id = _int(params, "chat_id"), _int(params, "message_id")
        record = self._bot_message(chat_id, message_id)
        if record is None:
            raise TelegramRefusal(400, "Bad Request: message to delete not found")
        record.deleted = True
        await self._notify()
        return True

    async def _m_sendChatAction(self, params: dict[str, str]) -> bool:
        if params.get("action") not in CHAT_ACTIONS:
            raise TelegramRefusal(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((_int(params, "chat_id"), params["action"]))
        return True

    # -- helpers ---------------------------------------------------------------------------------------------

    def _checked_text(self, params: dict[str, str]) -> str:
        return visible_text(params.get("text", ""), params.get("parse_mode"), strict_html=self.strict_html)

    def _bot_message(self, chat_id: int, message_id: int) -> TgMessage | None:
        key = (chat_id, message_id)
        return next((m for m in self.messages if (m.chat_id, m.message_id) == key and not m.deleted), None)

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._msg_ids.setdefault(chat_id, itertools.count(1)))


_STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was blocked by the user",
                404: "Not Found", 409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _int(params: dict[str, str], name: str) -> int:
    try:
        return int(params[name])
    except (KeyError, ValueError):
        reason = f"{name} is empty" if name not in params else "chat not found"
        raise TelegramRefusal(400, f"Bad Request: {reason}") from None


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Tester", "username": f"user{user_id}", "language_code": "en"}
