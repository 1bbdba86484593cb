"""Whether a workspace's own Claude Code settings would run a command when a session starts.

A warm session (`actors.warming`) is started before its plan is approved, and before approval
nothing may run. Starting the CLI runs no tool and calls no model, but a project's settings can
name commands of their own: hooks (`SessionStart` among them), `statusLine`, credential helpers.
Our sessions turn project hooks off (`disableAllHooks`) unless told otherwise, but a workspace
that declares any of these is simply not warmed before approval: what the CLI does with them at
start-up is its business, and not relying on it is the safe side.
"""

from __future__ import annotations

import json
from pathlib import Path

SETTINGS_FILES = ("settings.json", "settings.local.json")
COMMAND_KEYS = ("hooks", "statusLine", "apiKeyHelper", "awsAuthRefresh", "awsCredentialExport", "otelHeadersHelper")
"""Settings whose value is (or holds) a command the CLI may run on its own."""


def start_commands(folder: Path, up_to: Path | None = None) -> list[str]:
    """The settings files (with the key) that name a command, in `folder`'s `.claude/` and its
    parents up to `up_to` (inclusive; None: `folder` alone). An unreadable or malformed file
    counts as naming one: it cannot be shown not to."""
    found: list[str] = []
    for place in _chain(folder, up_to):
        for name in SETTINGS_FILES:
            path = place / ".claude" / name
            if not path.is_file():
                continue
            try:
                settings = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found.append(f"{path} (unreadable)")
                continue
            if not isinstance(settings, dict):
                found.append(f"{path} (not an object)")
                continue
            found.extend(f"{path}: {key}" for key in COMMAND_KEYS if settings.get(key))
    return found


def _chain(folder: Path, up_to: Path | None) -> list[Path]:
    places = [folder]
    if up_to is not None and folder != up_to and folder.is_relative_to(up_to):
        for parent in folder.parents:
            places.append(parent)
            if parent == up_to:
                break
    return places
