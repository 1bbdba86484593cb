"""Slack Web API request parsing and content limits, as the fake checks them.

The limits come from Slack's docs and issue threads (reference section 1.5); slack_sdk checks none of them
client-side for raw dict blocks, so the server is where they bite.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_TEXT = 40_000  # real Slack truncates past this; the fake refuses with msg_too_long
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000
MAX_MARKDOWN_TOTAL = 12_000


class SlackApiRefusal(Exception):
    """Raised inside the fake to answer a Web API call with `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query, form or JSON body into one dict; JSON-in-string fields (`blocks`, ...) decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.read()
        params.update(json.loads(raw) if raw.strip() else {})
    elif request.can_read_body:
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in ("blocks", "attachments", "metadata"):
        if isinstance(params.get(key), str) and params[key].strip()[:1] in ("[", "{"):
            params[key] = json.loads(params[key])
    return params


def check_content(params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]] | None]:
    """Validate channel/text/blocks against Slack's limits; returns (channel, text, blocks)."""
    channel = str(params.get("channel") or "")
    if not channel:
        raise SlackApiRefusal("channel_not_found")
    text = str(params.get("text") or "")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        raise SlackApiRefusal("no_text")
    if len(text) > MAX_TEXT:
        raise SlackApiRefusal("msg_too_long")
    if blocks is None:
        return channel, text, None
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise SlackApiRefusal("invalid_blocks",
                              errors=[f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"])
    markdown_total = 0
    for index, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "section":
            section_text = (block.get("text") or {}).get("text", "")
            if len(section_text) > MAX_SECTION_TEXT:
                raise SlackApiRefusal("invalid_blocks", errors=[
                    f"must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:/blocks/{index}/text/text]"])
        elif kind == "markdown":
            markdown_total += len(block.get("text", ""))
        elif kind is None:
            raise SlackApiRefusal("invalid_blocks",
                                  errors=[f"missing required field: type [json-pointer:/blocks/{index}]"])
    if markdown_total > MAX_MARKDOWN_TOTAL:
        raise SlackApiRefusal("msg_blocks_too_long")
    return channel, text, blocks
