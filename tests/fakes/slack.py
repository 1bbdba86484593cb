"""A local fake of Slack's Web API and Socket Mode, for driving the real slack-bolt offline.

`FakeSlack` is a real aiohttp server on 127.0.0.1 (port 0). Point `AsyncWebClient(base_url=slack.api_url)`
at it; `apps.connections.open` then hands out a `ws://` URL to the fake's own Socket Mode endpoint.
Wire formats follow /work/shared/reference/slack-telegram.md (section 1).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack_content import SlackApiRefusal, check_content, read_params

BOT_USER_ID = "U0BOTFAKE"
BOT_ID = "B0BOTFAKE"
TEAM_ID = "T000FAKE"
APP_ID = "A0APPFAKE"
SCOPES = "app_mentions:read,channels:history,chat:write,im:history,im:read,users:read"


@dataclass
class SlackMessage:
    """A message the bot posted (or ephemerally showed), as the fake stores it; `chat.update` edits it in place."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    ephemeral_user: str | None = None
    history: list[str] = field(default_factory=list)  # earlier texts, oldest first

    def as_api(self) -> dict[str, Any]:
        """The `message` object Slack returns for this message."""
        body: dict[str, Any] = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": self.text,
                                "ts": self.ts}
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.blocks is not None:
            body["blocks"] = self.blocks
        return body


@dataclass
class _Fault:
    status: int
    error: str
    retry_after: int | None
    times: int


class FakeSlack:
    """Slack's Web API and Socket Mode on a loopback port; use as `async with FakeSlack() as slack:`."""

    def __init__(
        self, bot_token: str = "xoxb-1-fake", app_token: str = "xapp-1-fake", *, answer_pings: bool = True
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.answer_pings = answer_pings
        self.messages: list[SlackMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, params) for every Web API call
        self.acks: dict[str, dict[str, Any]] = {}  # envelope_id -> the client's ack frame
        self.open_calls = 0  # successful apps.connections.open calls
        self.connection_count = 0  # websocket connections accepted so far
        self._foreign: set[tuple[str, str]] = set()  # (channel, ts) of messages by someone other than the bot
        self._faults: dict[str, list[_Fault]] = {}
        self._refusals: list[tuple[str, Callable[[dict[str, Any]], bool], str]] = []
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._draining: set[int] = set()  # ids of sockets told to disconnect; no new envelopes go there
        self._changed = asyncio.Condition()
        self._clock = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web_api)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.drop_sockets()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """Base URL for `AsyncWebClient(base_url=...)`, e.g. `http://127.0.0.1:PORT/api/`."""
        return f"http://127.0.0.1:{self._port}/api/"

    # -- recorded state --------------------------------------------------------------------------------------

    def messages_in(self, channel: str, thread_ts: str | None = None) -> list[SlackMessage]:
        """Bot messages in `channel`; with `thread_ts`, only the replies in that thread."""
        return [m for m in self.messages if m.channel == channel and (thread_ts is None or m.thread_ts == thread_ts)]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call to one Web API method, in order."""
        return [params for name, params in self.calls if name == method]

    async def wait_for_message(
        self, predicate: Callable[[SlackMessage], bool] = lambda _: True, timeout: float = 5.0
    ) -> SlackMessage:
        """The first bot message (in its current, possibly edited, state) matching `predicate`; waits for it."""
        found: list[SlackMessage] = []

        def match() -> bool:
            found[:] = [m for m in self.messages if predicate(m)][:1]
            return bool(found)

        await self._wait(match, timeout, lambda: f"no matching message; posted so far: {self.messages!r}")
        return found[0]

    async def wait_for_call(
        self, method: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The parameters of the first call to `method` matching `predicate` (answered or faulted); waits for it."""
        found: list[dict[str, Any]] = []

        def match() -> bool:
            found[:] = [params for params in self.calls_to(method) if predicate(params)][:1]
            return bool(found)

        await self._wait(match, timeout, lambda: f"no matching {method} call; calls so far: {[m for m, _ in self.calls]}")
        return found[0]

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The ack frame the client sent for `envelope_id`; waits for it."""
        await self._wait(lambda: envelope_id in self.acks, timeout,
                         lambda: f"no ack for {envelope_id}; acks so far: {list(self.acks)}")
        return self.acks[envelope_id]

    async def wait_for_connections(self, count: int, timeout: float = 5.0) -> None:
        """Wait until `count` websocket connections have been accepted in total and one is live."""
        await self._wait(
            lambda: self.connection_count >= count and self._live() is not None,
            timeout,
            lambda: f"{self.connection_count} connections so far, wanted {count}",
        )

    async def _wait(self, ready: Callable[[], bool], timeout: float, explain: Callable[[], str]) -> None:
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
        except TimeoutError:
            raise AssertionError(f"FakeSlack: timed out after {timeout}s: {explain()}") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- fault knobs -----------------------------------------------------------------------------------------

    def add_fault(
        self, method: str, *, status: int = 429, error: str = "ratelimited", retry_after: int | None = 1, times: int = 1
    ) -> None:
        """Answer the next `times` calls to `method` with `error` (HTTP `status`; 429 carries `Retry-After`)."""
        self._faults.setdefault(method, []).append(_Fault(status, error, retry_after if status == 429 else None, times))

    def clear_faults(self) -> None:
        """Answer every call normally again."""
        self._faults.clear()
        self._refusals.clear()

    def refuse(self, method: str, predicate: Callable[[dict[str, Any]], bool], *, error: str = "channel_not_found") -> None:
        """Answer every call to `method` whose parameters match `predicate` with `error`, until cleared."""
        self._refusals.append((method, predicate, error))

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method, [])
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    # -- event builders --------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh, strictly increasing Slack timestamp."""
        n = next(self._clock)
        return f"{1_700_000_000 + n}.{n:06d}"

    def message_event(
        self, user: str, text: str, channel: str = "C0FAKE", ts: str | None = None, thread_ts: str | None = None,
        channel_type: str = "channel",
    ) -> dict[str, Any]:
        """A `message` event from `user` (`channel_type` "channel" or "im"), as Slack sends it."""
        ts = ts or self.next_ts()
        event = {"type": "message", "channel": channel, "channel_type": channel_type, "user": user, "text": text,
                 "ts": ts, "event_ts": ts, "team": TEAM_ID}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def mention_event(
        self, user: str, text: str, channel: str = "C0FAKE", ts: str | None = None, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """An `app_mention` event: `text` prefixed with `<@U0BOTFAKE> `."""
        event = self.message_event(user, f"<@{BOT_USER_ID}> {text}", channel, ts, thread_ts)
        event["type"] = "app_mention"
        del event["channel_type"]
        return event

    def button_click(
        self, user: str, action_id: str, value: str, *, message_ts: str, channel: str = "C0FAKE",
        thread_ts: str | None = None, block_id: str = "actions",
    ) -> dict[str, Any]:
        """A `block_actions` payload: `user` clicked button `action_id` on the bot message `message_ts`."""
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": message_ts, "text": ""}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return {
            "type": "block_actions", "token": "verification-token", "api_app_id": APP_ID,
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"{next(self._clock)}.fake.trigger", "channel": {"id": channel, "name": channel.lower()},
            "message": message, "state": {"values": {}},
            "response_url": f"http://127.0.0.1:{self._port}/response/{uuid.uuid4().hex}",
            "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                         "text": {"type": "plain_text", "text": value}, "action_ts": self.next_ts()}],
        }

    # -- Socket Mode: server -> client -----------------------------------------------------------------------

    async def push_event(
        self, event: dict[str, Any], *, envelope_id: str | None = None, retry_attempt: int = 0, timeout: float = 5.0
    ) -> str:
        """Deliver `event` in an `events_api` envelope on the live socket (waiting for one); returns the envelope id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        by_bot = "bot_id" in event or event.get("user") == BOT_USER_ID
        if event.get("type") in ("message", "app_mention") and not by_bot:
            self._foreign.add((event.get("channel", ""), event.get("ts", "")))
        payload = {
            "token": "verification-token", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": 1_700_000_000,
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
                                "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": f"4-{event.get('type')}-{TEAM_ID}-{event.get('channel')}",
            "event": event,
        }
        await self._send({"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
                          "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else "",
                          "payload": payload}, timeout)
        return envelope_id

    async def push_interactive(
        self, payload: dict[str, Any], *, envelope_id: str | None = None, timeout: float = 5.0
    ) -> str:
        """Deliver an `interactive` envelope (e.g. a `button_click` payload); returns the envelope id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        await self._send({"envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": False,
                          "payload": payload}, timeout)
        return envelope_id

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send a `disconnect` frame on every live socket; no further envelopes are routed to them."""
        for ws in self._open_sockets():
            self._draining.add(id(ws))
            await ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}})

    async def drop_sockets(self) -> None:
        """Close every live socket from the server side (a websocket close frame)."""
        for ws in self._open_sockets():
            await ws.close(code=1001, message=b"fake server closed the link")

    def _open_sockets(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self._sockets if not ws.closed]

    def _live(self) -> web.WebSocketResponse | None:
        live = [ws for ws in self._open_sockets() if id(ws) not in self._draining]
        return live[-1] if live else None

    async def _send(self, frame: dict[str, Any], timeout: float) -> None:
        await self._wait(lambda: self._live() is not None, timeout, lambda: "no live Socket Mode connection")
        ws = self._live()
        assert ws is not None
        await ws.send_json(frame)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="unknown or used ticket; call apps.connections.open first")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=self.answer_pings, timeout=1.0)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connection_count += 1
        await ws.send_json({"type": "hello", "num_connections": len(self._open_sockets()),
                            "debug_info": {"host": "applink-fake", "build_number": 1,
                                           "approximate_connection_time": 18060},
                            "connection_info": {"app_id": APP_ID}})
        await self._notify()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    continue  # the real server ignores junk too
                if isinstance(frame, dict) and "envelope_id" in frame:
                    self.acks[frame["envelope_id"]] = frame
                    await self._notify()
        await self._notify()
        return ws

    # -- Web API ---------------------------------------------------------------------------------------------

    async def _web_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await read_params(request)
        self.calls.append((method, params))
        await self._notify()
        for refused_method, predicate, error in self._refusals:
            if refused_method == method and predicate(params):
                return web.json_response({"ok": False, "error": error})
        fault = self._take_fault(method)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response({"ok": False, "error": fault.error}, status=fault.status, headers=headers)
        handler = self._methods().get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        wanted_token, run = handler
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or params.get("token", "")
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != wanted_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        try:
            body = await run(params)
        except SlackApiRefusal as refusal:
            return web.json_response({"ok": False, "error": refusal.error, **refusal.extra})
        headers = {"x-oauth-scopes": SCOPES, "x-accepted-oauth-scopes": ""} if method == "auth.test" else {}
        return web.json_response({"ok": True, **body}, headers=headers)

    def _methods(self) -> dict[str, tuple[str, Callable[[dict[str, Any]], Any]]]:
        bot = self.bot_token
        return {
            "auth.test": (bot, self._auth_test),
            "apps.connections.open": (self.app_token, self._connections_open),
            "chat.postMessage": (bot, self._post_message),
            "chat.postEphemeral": (bot, self._post_ephemeral),
            "chat.update": (bot, self._update),
            "conversations.info": (bot, self._conversation_info),
            "users.info": (bot, self._user_info),
        }

    async def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake.slack.com/", "team": "Fake", "user": "fakebot", "team_id": TEAM_ID,
                "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    async def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        self.open_calls += 1
        return {"url": f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={APP_ID}"}

    async def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = check_content(params)
        message = SlackMessage(channel, self.next_ts(), text, blocks, params.get("thread_ts") or None)
        await self._record(message)
        return {"channel": channel, "ts": message.ts, "message": message.as_api()}

    async def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = check_content(params)
        if not params.get("user"):
            raise SlackApiRefusal("user_not_in_channel")
        message = SlackMessage(channel, self.next_ts(), text, blocks, params.get("thread_ts") or None, params["user"])
        await self._record(message)
        return {"message_ts": message.ts}

    async def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = check_content(params)
        ts = str(params.get("ts", ""))
        if (channel, ts) in self._foreign:
            raise SlackApiRefusal("cant_update_message")
        target = next((m for m in self.messages if m.channel == channel and m.ts == ts and not m.ephemeral_user), None)
        if target is None:
            raise SlackApiRefusal("message_not_found")
        target.history.append(target.text)
        target.text, target.blocks = text, blocks if blocks is not None else target.blocks
        await self._notify()
        return {"channel": channel, "ts": ts, "text": text, "message": target.as_api()}

    async def _record(self, message: SlackMessage) -> None:
        self.messages.append(message)
        await self._notify()

    async def _conversation_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if not channel:
            raise SlackApiRefusal("channel_not_found")
        is_im = channel.startswith("D")
        return {"channel": {"id": channel, "name": channel.lower(), "is_channel": not is_im, "is_im": is_im,
                            "is_private": is_im, "is_member": True, "context_team_id": TEAM_ID}}

    async def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user", ""))
        if not user:
            raise SlackApiRefusal("user_not_found")
        name = "fakebot" if user == BOT_USER_ID else user.lower()
        return {"user": {"id": user, "team_id": TEAM_ID, "name": name, "real_name": name.title(),
                         "is_bot": user == BOT_USER_ID,
                         "tz": "Europe/London", "profile": {"display_name": name, "real_name": name.title()}}}
