"""Short progress lines from an assistant message: `Write src/x.py`, `Bash pytest -q`, text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from claude_agent_sdk import AssistantMessage, TextBlock, ToolUseBlock

from claude_tunnels.tunnels.claude.spec import Progress

TEXT_LIMIT = 200
DETAIL_LIMIT = 120
_PATH_KEYS = ("file_path", "notebook_path", "path")
_QUIET_TOOLS = frozenset({"StructuredOutput"})  # the final answer, not progress


def progress_of(message: AssistantMessage, cwd: Path) -> list[Progress]:
    """What `message` shows of the agent's work, one `Progress` per block worth reporting."""
    found: list[Progress] = []
    for block in message.content:
        if isinstance(block, TextBlock) and block.text.strip():
            found.append(Progress("text", _shorten(" ".join(block.text.split()), TEXT_LIMIT)))
        elif isinstance(block, ToolUseBlock) and block.name not in _QUIET_TOOLS:
            detail = _tool_detail(block.input, cwd)
            found.append(Progress("tool", f"{block.name} {detail}".rstrip()))
    return found


def _tool_detail(tool_input: dict[str, Any], cwd: Path) -> str:
    command = tool_input.get("command")
    if isinstance(command, str):
        return _shorten(" ".join(command.split()), DETAIL_LIMIT)
    for key in _PATH_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return _shorten(_relative(value, cwd), DETAIL_LIMIT)
    pattern = tool_input.get("pattern")
    if isinstance(pattern, str):
        return _shorten(pattern, DETAIL_LIMIT)
    return ""


def _relative(path: str, cwd: Path) -> str:
    """`path` relative to `cwd` when it lies inside it, as given otherwise."""
    if not os.path.isabs(path):
        return path
    for base in (cwd, cwd.resolve()):
        if Path(path).is_relative_to(base):
            return str(Path(path).relative_to(base)) or "."
    return path


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
