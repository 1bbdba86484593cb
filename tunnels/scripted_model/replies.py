"""Building Messages API answers: content blocks, usage, a JSON message or its SSE stream."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from claude_tunnels.tunnels.scripted_model.scenario import Turn

STRUCTURED_OUTPUT_TOOL = "StructuredOutput"
DONE_TEXT = "Done."
DEFAULT_TEXT = "OK."


class Reply:
    """One assistant message: its content blocks, stop reason and token counts."""

    def __init__(self, blocks: list[dict[str, Any]], model: str, input_tokens: int) -> None:
        self.id = f"msg_{uuid.uuid4().hex[:24]}"
        self.blocks = blocks
        self.model = model
        self.input_tokens = input_tokens
        self.output_tokens = 10 + _tokens(json.dumps(blocks))
        uses_tools = any(b["type"] == "tool_use" for b in blocks)
        self.stop_reason = "tool_use" if uses_tools else "end_turn"

    def message(self) -> dict[str, Any]:
        """The whole message, as a non-streaming (`stream: false`) answer."""
        message = self._envelope(self.blocks)
        return {
            **message,
            "stop_reason": self.stop_reason,
            "usage": self._usage(self.output_tokens),
        }

    def sse(self) -> Iterator[bytes]:
        """The message as Server-Sent Events, in the order the real API sends them."""
        start = {**self._envelope([]), "usage": self._usage(1)}
        yield _event("message_start", {"type": "message_start", "message": start})
        for index, block in enumerate(self.blocks):
            if block["type"] == "text":
                opening: dict[str, Any] = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                opening = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opening},
            )
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": self.output_tokens},
            },
        )
        yield _event("message_stop", {"type": "message_stop"})

    def _envelope(self, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
        }

    def _usage(self, output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }


def turn_blocks(turn: Turn, cwd: str | None) -> list[dict[str, Any]]:
    """The content blocks of a scripted turn, `{cwd}` filled into tool inputs."""
    blocks: list[dict[str, Any]] = []
    if turn.text is not None:
        blocks.append(text_block(turn.text))
    for use in turn.tool_uses:
        blocks.append(_tool_use(use.name, _fill(use.input, cwd)))
    if turn.structured_output is not None:
        blocks.append(_tool_use(STRUCTURED_OUTPUT_TOOL, turn.structured_output))
    return blocks


def text_block(text: str) -> dict[str, Any]:
    """A text content block."""
    return {"type": "text", "text": text}


def estimate_tokens(body: dict[str, Any]) -> int:
    """A plausible input token count for a request (about four characters a token)."""
    return max(
        1,
        _tokens(json.dumps(body.get("system", ""))) + _tokens(json.dumps(body.get("messages", []))),
    )


def default_text(body: dict[str, Any]) -> str:
    """The answer to a request no script plays: a short text, or JSON when a format is required.

    The CLI's side calls (e.g. session titles) ask for JSON through `output_config.format`.
    """
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") != "json_schema":
        return DEFAULT_TEXT
    schema = fmt.get("schema") or {}
    properties = schema.get("properties") or {}
    answer = {
        name: "Scripted session"
        for name in schema.get("required", [])
        if (properties.get(name) or {}).get("type") == "string"
    }
    return json.dumps(answer)


def invalid_tool_schema(body: dict[str, Any]) -> str | None:
    """Why the real API would refuse the request's tool schemas, or None.

    The API wants every `input_schema` to be an object schema at its top level; a bare
    `{"$ref": …}` (what `msgspec.json.schema` produces) is refused there, so refuse it here too.
    """
    for index, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or "input_schema" not in tool:
            continue
        if (tool.get("input_schema") or {}).get("type") != "object":
            return f"tools.{index}.custom.input_schema.type: Field required"
    return None


def error_body(kind: str, message: str) -> dict[str, Any]:
    """The JSON body of an API error answer."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def _tool_use(name: str, tool_input: Any) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": f"toolu_{uuid.uuid4().hex[:24]}",
        "name": name,
        "input": tool_input,
    }


def _fill(value: Any, cwd: str | None) -> Any:
    if isinstance(value, str):
        return value.replace("{cwd}", cwd) if cwd is not None else value
    if isinstance(value, dict):
        return {key: _fill(item, cwd) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, cwd) for item in value]
    return value


def _tokens(text: str) -> int:
    return len(text) // 4


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
