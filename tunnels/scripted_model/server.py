"""The scripted model server: a local Messages API that plays a scenario to the Claude Code CLI."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from claude_tunnels.tunnels.scripted_model import replies
from claude_tunnels.tunnels.scripted_model.request_text import (
    assistant_turns,
    messages_text,
    session_cwd,
    task_text,
)
from claude_tunnels.tunnels.scripted_model.scenario import Scenario, Script, Turn

DUMMY_API_KEY = "scripted-model-not-a-real-key"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, and what it chose to play for it."""

    path: str
    script: str | None
    """Name of the script that matched, None for an unmatched request (a CLI side call)."""
    turn: int
    """Index of the turn played (assistant messages already in the request)."""
    body: dict[str, Any] = field(repr=False)

    @property
    def task_text(self) -> str:
        """System prompt plus first user message, without the CLI's `<system-reminder>`s."""
        return task_text(self.body)

    @property
    def cwd(self) -> str | None:
        """The session's working directory, as the CLI stated it."""
        return session_cwd(self.body)

    def messages_text(self) -> str:
        """The concatenated text of every message (tool results included)."""
        return messages_text(self.body)


def choose_script(scenario: Scenario, text: str) -> Script | None:
    """The script whose `match` strings all occur in `text`; most strings wins, ties go first."""
    best: Script | None = None
    for script in scenario.scripts:
        matches = all(needle in text for needle in script.match)
        if matches and (best is None or len(script.match) > len(best.match)):
            best = script
    return best


KEEP_REQUESTS = 100
"""Requests a long-running server keeps recorded (`tunnels chat --scripted-model`: nobody reads them back)."""


class ScriptedModelServer:
    """A Messages API on 127.0.0.1 that answers from a `Scenario`.

    Use as ``async with ScriptedModelServer(scenario) as srv:`` and give the CLI ``srv.env()``.
    Every request is recorded in `requests` (the last `keep_requests` of them, when given: a server
    that runs for long, as `tunnels chat --scripted-model` runs it, must not grow with every call). `load` swaps the scenario, so one server can serve
    many tests. Requests are answered statelessly (the turn is the number of assistant messages
    already in the request), so any number of sessions can share one server.
    """

    def __init__(
        self, scenario: Scenario | None = None, *, host: str = "127.0.0.1", port: int = 0, keep_requests: int | None = None,
    ):
        self._scenario = scenario or Scenario()
        self._keep = keep_requests
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._arrived = asyncio.Condition()
        self.requests: list[RecordedRequest] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        if self._runner is None:
            raise RuntimeError("ScriptedModelServer is not running: use it as `async with`")
        return f"http://{self._host}:{self._port}"

    @property
    def unmatched(self) -> list[RecordedRequest]:
        """Message requests that matched no script (the CLI's side calls, or a wrong prompt)."""
        return [r for r in self.requests if r.script is None and r.path.startswith("/v1/messages")]

    def requests_for(self, script: str) -> list[RecordedRequest]:
        """The requests answered from the script named `script`, in arrival order."""
        return [r for r in self.requests if r.script == script]

    async def wait_for_requests(
        self, count: int = 1, *, script: str | None = None, timeout: float = 30.0
    ) -> list[RecordedRequest]:
        """Wait until `count` requests (for `script`, if given) have arrived; return them.

        Raises `TimeoutError` after `timeout` seconds. Tests use it instead of sleeping.
        """

        def arrived() -> list[RecordedRequest]:
            return self.requests_for(script) if script is not None else list(self.requests)

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(arrived()) >= count)
        return arrived()

    def load(self, scenario: Scenario) -> None:
        """Play `scenario` from the next request on (the recorded requests are kept)."""
        self._scenario = scenario

    def env(self) -> dict[str, str]:
        """Environment variables that make a Claude Code CLI use this server, and fail fast."""
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": DUMMY_API_KEY,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # Without this a 401/429/5xx is retried with backoff for minutes.
            "CLAUDE_CODE_MAX_RETRIES": "0",
        }

    async def __aenter__(self) -> ScriptedModelServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # handler_cancellation: a hanging or delayed answer ends when the CLI goes away.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._handlers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _record(self, recorded: RecordedRequest) -> None:
        async with self._arrived:
            self.requests.append(recorded)
            if self._keep is not None and len(self.requests) > self._keep:
                del self.requests[: len(self.requests) - self._keep]
            self._arrived.notify_all()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        if body is None:
            return web.json_response(
                replies.error_body("invalid_request_error", "body is not JSON"), status=400
            )
        problem = replies.invalid_tool_schema(body)
        if problem is not None:
            await self._record(RecordedRequest(request.path, None, assistant_turns(body), body))
            return web.json_response(
                replies.error_body("invalid_request_error", problem), status=400
            )
        # Side calls (session titles, …) carry no environment section: never script them.
        is_session_turn = session_cwd(body) is not None
        script = choose_script(self._scenario, task_text(body)) if is_session_turn else None
        turn_index = assistant_turns(body)
        await self._record(
            RecordedRequest(request.path, script.name if script else None, turn_index, body)
        )
        turn = _turn_to_play(script, turn_index, body)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            return await self._answer(request, body, turn)
        finally:
            self._handlers.discard(task)

    async def _answer(
        self, request: web.Request, body: dict[str, Any], turn: Turn
    ) -> web.StreamResponse:
        if turn.delay_s:
            await asyncio.sleep(turn.delay_s)
        if turn.hang:
            await asyncio.Event().wait()  # ends only by cancellation: client gone or shutdown
        if turn.error is not None:
            return web.json_response(
                replies.error_body(turn.error.type, turn.error.message),
                status=turn.error.status,
                headers={"x-should-retry": "false"},
            )
        reply = replies.Reply(
            replies.turn_blocks(turn, session_cwd(body)),
            str(body.get("model", "claude-scripted")),
            replies.estimate_tokens(body),
        )
        if not body.get("stream"):
            return web.json_response(reply.message())
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            for chunk in reply.sse():
                await response.write(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the CLI went away mid-answer; nothing is waiting for the rest
        return response

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body = await _json_body(request) or {}
        await self._record(RecordedRequest(request.path, None, 0, body))
        return web.json_response({"input_tokens": replies.estimate_tokens(body)})

    async def _not_found(self, request: web.Request) -> web.Response:
        await self._record(RecordedRequest(request.path, None, 0, {}))
        return web.json_response(
            replies.error_body("not_found_error", f"no route {request.path}"), status=404
        )


def _turn_to_play(script: Script | None, index: int, body: dict[str, Any]) -> Turn:
    if script is None:
        return Turn(text=replies.default_text(body))
    if index < len(script.turns):
        return script.turns[index]
    return Turn(text=replies.DONE_TEXT)


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
