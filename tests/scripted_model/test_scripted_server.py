"""The scripted model server over real HTTP, with request bodies shaped like the CLI's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from claude_tunnels.tunnels.scripted_model import Scenario, ScriptedModelServer, parse_scenario

SCENARIO = parse_scenario(
    """
scripts:
  - name: build
    match: ["TASK-build"]
    turns:
      - text: "Writing."
        tool_uses:
          - name: Write
            input: {file_path: "{cwd}/a.txt", content: "{cwd} stays literal? no: filled"}
      - structured_output: {summary: "built"}
  - name: build-alpha
    match: ["TASK-build", "alpha"]
    turns: [{text: "alpha wins"}]
  - name: twin-1
    match: ["TWIN"]
    turns: [{text: "first twin"}]
  - name: twin-2
    match: ["TWIN"]
    turns: [{text: "second twin"}]
  - name: in-system
    match: ["ROUTER-SYSTEM"]
    turns: [{text: "matched the system prompt"}]
  - name: hidden
    match: ["ONLY-IN-REMINDER"]
    turns: [{text: "must never play"}]  # unless the caller writes it
  - name: broken
    match: ["TASK-broken"]
    turns: [{error: {status: 529, type: overloaded_error, message: "scripted overload"}}]
  - name: stuck
    match: ["TASK-stuck"]
    turns: [{hang: true}]
  - name: slow
    match: ["TASK-slow"]
    turns: [{delay_s: 0.3, text: "late"}]
""",
    "test",
)

CWD = "/work/projects/alpha/api"


def cli_body(
    prompt: str,
    *,
    system: str = "You are a helpful agent.",
    history: int = 0,
    cwd: str | None = CWD,
    stream: bool = True,
) -> dict[str, Any]:
    """A request as the CLI sends it: reminder blocks, the environment message, history."""
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "<system-reminder>\nGit attribution… ONLY-IN-REMINDER\n"
                    "</system-reminder>\n",
                },
                {"type": "text", "text": prompt},
            ],
        }
    ]
    if cwd is not None:
        env = f"# Environment\n - Primary working directory: {cwd}\n - Platform: linux\n"
        messages.append({"role": "system", "content": [{"type": "text", "text": env}]})
    for n in range(history):
        messages.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {}}],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"t{n}", "content": f"result {n}"}
                ],
            }
        )
    return {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": system}],
        "messages": messages,
        "tools": [{"name": "Write", "input_schema": {"type": "object"}}],
        "max_tokens": 1000,
        "stream": stream,
    }


@pytest.fixture
async def server() -> AsyncIterator[ScriptedModelServer]:
    async with ScriptedModelServer(SCENARIO) as srv:
        yield srv


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post_sse(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    async with http.post(f"{url}/v1/messages?beta=true", json=body) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = await response.text()
    events = []
    for chunk in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def message_of(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Rebuild the message from its events, as a client would."""
    message = dict(events[0][1]["message"])
    blocks: list[dict[str, Any]] = []
    for name, data in events[1:]:
        if name == "content_block_start":
            blocks.append(dict(data["content_block"]))
            blocks[-1]["_json"] = ""
        elif name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                blocks[data["index"]]["text"] += delta["text"]
            else:
                blocks[data["index"]]["_json"] += delta["partial_json"]
        elif name == "message_delta":
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["output_tokens"] = data["usage"]["output_tokens"]
    for block in blocks:
        raw = block.pop("_json")
        if block["type"] == "tool_use":
            block["input"] = json.loads(raw)
    message["content"] = blocks
    return message


async def test_a_turn_streams_as_the_real_api_does(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    events = await post_sse(http, server.url, cli_body("TASK-build now"))

    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    message = message_of(events)
    assert message["model"] == "claude-sonnet-4-5"
    assert message["stop_reason"] == "tool_use"
    assert message["content"][0] == {"type": "text", "text": "Writing."}
    tool = message["content"][1]
    assert tool["name"] == "Write" and tool["id"].startswith("toolu_")
    assert tool["input"] == {
        "file_path": f"{CWD}/a.txt",
        "content": f"{CWD} stays literal? no: filled",
    }
    assert message["usage"]["input_tokens"] > 50 and message["output_tokens"] > 1


async def test_the_turn_is_the_number_of_assistant_messages(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    second = message_of(await post_sse(http, server.url, cli_body("TASK-build", history=1)))
    after = message_of(await post_sse(http, server.url, cli_body("TASK-build", history=2)))

    assert second["content"][0]["name"] == "StructuredOutput"
    assert second["content"][0]["input"] == {"summary": "built"}
    assert after["content"] == [{"type": "text", "text": "Done."}]
    assert after["stop_reason"] == "end_turn"
    assert [(r.script, r.turn) for r in server.requests] == [("build", 1), ("build", 2)]


@pytest.mark.parametrize(
    ("prompt", "system", "expected_text", "script"),
    [
        ("TASK-build for alpha", "s", "alpha wins", "build-alpha"),  # the most match strings win
        ("TWIN", "s", "first twin", "twin-1"),  # ties go to the first in the file
        ("route this", "ROUTER-SYSTEM prompt", "matched the system prompt", "in-system"),
        ("nothing known", "s", "OK.", None),  # ONLY-IN-REMINDER sits in a reminder
        ("the caller wrote ONLY-IN-REMINDER", "s", "must never play", "hidden"),
    ],
)
async def test_scripts_match_on_what_the_caller_wrote(
    server: ScriptedModelServer,
    http: aiohttp.ClientSession,
    prompt: str,
    system: str,
    expected_text: str,
    script: str | None,
) -> None:
    message = message_of(await post_sse(http, server.url, cli_body(prompt, system=system)))

    assert message["content"][0]["text"] == expected_text
    assert server.requests[-1].script == script


async def test_text_inside_reminders_and_later_messages_does_not_match(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    body = cli_body("plain prompt", history=1)
    body["messages"][2]["content"][0]["input"] = {"command": "TASK-build"}  # only in history

    message = message_of(await post_sse(http, server.url, body))

    assert message["content"][0]["text"] == "OK."
    assert server.unmatched == server.requests


async def test_side_calls_are_never_scripted(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    # A session-title request quotes the prompt but carries no environment section.
    body = cli_body("<session>TASK-build</session>", cwd=None)
    body["tools"] = []
    body["output_config"] = {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
            },
        }
    }

    message = message_of(await post_sse(http, server.url, body))

    assert json.loads(message["content"][0]["text"]) == {"title": "Scripted session"}
    assert server.requests[-1].script is None


async def test_non_streaming_and_count_tokens(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{server.url}/v1/messages", json=cli_body("TASK-build", stream=False)
    ) as response:
        message = await response.json()
    async with http.post(f"{server.url}/v1/messages/count_tokens", json=cli_body("x")) as response:
        counted = await response.json()

    assert message["type"] == "message" and message["stop_reason"] == "tool_use"
    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]
    assert message["usage"]["output_tokens"] > 1
    assert counted["input_tokens"] > 0


async def test_a_scripted_error_is_an_api_error_the_cli_does_not_retry(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.url}/v1/messages", json=cli_body("TASK-broken")) as response:
        assert response.status == 529
        assert response.headers["x-should-retry"] == "false"
        assert await response.json() == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "scripted overload"},
        }


async def test_a_tool_schema_the_real_api_refuses_is_refused(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    body = cli_body("TASK-build")
    body["tools"].append(
        {"name": "StructuredOutput", "input_schema": {"$ref": "#/$defs/T", "$defs": {}}}
    )

    async with http.post(f"{server.url}/v1/messages", json=body) as response:
        assert response.status == 400
        assert "tools.1.custom.input_schema.type" in (await response.json())["error"]["message"]


async def test_a_delayed_turn_answers_after_its_delay(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()

    message = message_of(await post_sse(http, server.url, cli_body("TASK-slow")))

    assert message["content"][0]["text"] == "late"
    assert time.monotonic() - started >= 0.3


async def test_a_hanging_turn_never_answers_and_does_not_hold_up_shutdown(
    http: aiohttp.ClientSession,
) -> None:
    async with ScriptedModelServer(SCENARIO) as server:
        pending = asyncio.create_task(
            http.post(f"{server.url}/v1/messages", json=cli_body("TASK-stuck"))
        )
        await server.wait_for_requests(script="stuck")
        assert not pending.done()
        closing = time.monotonic()
    assert time.monotonic() - closing < 2.0
    with pytest.raises(aiohttp.ClientError):
        await pending


async def test_load_swaps_the_scenario_and_keeps_the_record(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    await post_sse(http, server.url, cli_body("TASK-build"))
    server.load(Scenario())
    message = message_of(await post_sse(http, server.url, cli_body("TASK-build")))

    assert message["content"][0]["text"] == "OK."
    assert [r.script for r in server.requests] == ["build", None]


async def test_recorded_requests_expose_cwd_task_text_and_all_message_text(
    server: ScriptedModelServer, http: aiohttp.ClientSession
) -> None:
    await post_sse(http, server.url, cli_body("TASK-build with upstream", history=2))

    recorded = server.requests_for("build")[0]
    assert recorded.cwd == CWD
    assert recorded.task_text.endswith("TASK-build with upstream")
    assert "ONLY-IN-REMINDER" not in recorded.task_text
    assert "result 0" in recorded.messages_text() and "result 1" in recorded.messages_text()
    assert recorded.body["max_tokens"] == 1000


async def test_env_points_a_cli_here_and_stops_retries(server: ScriptedModelServer) -> None:
    env = server.env()

    assert env["ANTHROPIC_BASE_URL"] == server.url
    assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
    assert env["ANTHROPIC_API_KEY"]
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == env["DISABLE_TELEMETRY"] == "1"


async def test_waiting_for_requests_that_never_come_times_out(server: ScriptedModelServer) -> None:
    with pytest.raises(TimeoutError):
        await server.wait_for_requests(script="build", timeout=0.05)
