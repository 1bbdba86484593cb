"""What `tunnels init` checks before it writes anything: token shapes, and which folders look like projects."""

from __future__ import annotations

import re
from pathlib import Path

from aiogram.utils.token import TokenValidationError, validate_token

from claude_tunnels.tunnels.errors import UserError

_SLACK_PREFIXES = {"bot_token": "xoxb-", "app_token": "xapp-"}
_NOT_SCANNED = frozenset({"node_modules", "__pycache__"})
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


def check_token(channel: str, key: str, value: str, variable: str) -> None:
    """Refuse a token that is missing or cannot be one (its shape only: `tunnels doctor` asks the
    platform); the message names the variable that gives it, never the value."""
    what = f"{channel} {key.replace('_', ' ')}"
    if not value:
        raise UserError(f"no {what}: set {variable} (or run tunnels init on a terminal to type it); nothing written")
    if not _TOKEN_CHARS.fullmatch(value):
        raise UserError(f"the {what} holds spaces or unusual characters; check {variable} or what was typed; nothing written")
    prefix = _SLACK_PREFIXES.get(key) if channel == "slack" else None
    if prefix and not value.startswith(prefix):
        raise UserError(f"the {what} should start with {prefix}; check {variable} or what was typed; nothing written")
    if channel == "telegram":
        try:
            validate_token(value)
        except TokenValidationError:
            raise UserError(
                f"the {what} is malformed (it looks like 123456:ABC-...); check {variable} or what was typed; nothing written"
            ) from None


def workspace_like(folder: Path) -> bool:
    """Whether `folder` looks like a project already: a `.claude/` or `.git` in it, or a sub-folder
    with a `.claude/` or a `CLAUDE.md` (one level down)."""
    if (folder / ".claude").is_dir() or (folder / ".git").exists():
        return True
    try:
        children = [child for child in folder.iterdir() if child.is_dir() and not child.name.startswith(".")]
    except OSError:
        return False
    return any(
        (child / ".claude").is_dir() or (child / "CLAUDE.md").is_file()
        for child in children if child.name not in _NOT_SCANNED and not child.is_symlink()
    )
