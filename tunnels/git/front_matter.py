"""A workspace's declared test command, from the YAML front matter of its `CLAUDE.md`:

    ---
    test: pytest -q
    ---
    # the workspace's instructions...

The orchestrator runs it after the agent (in the task's worktree, in the sandbox) and records the
outcome as a fact; a workspace without it has no declared test.
"""

from __future__ import annotations

import yaml


class FrontMatterError(ValueError):
    """The front matter is not a YAML mapping, or its `test` is not a one-line command."""


def declared_test(claude_md: str) -> str | None:
    """The `test` command declared in `claude_md`'s front matter, or None."""
    text = claude_md.lstrip("\ufeff")
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---", 4)
    if end < 0:
        return None
    try:
        data = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as err:
        raise FrontMatterError(f"the front matter of CLAUDE.md is not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise FrontMatterError("the front matter of CLAUDE.md must be a mapping (e.g. `test: pytest -q`)")
    command = data.get("test")
    if command is None:
        return None
    if not isinstance(command, str) or not command.strip() or "\n" in command.strip():
        raise FrontMatterError("`test` in the front matter of CLAUDE.md must be one command line, e.g. `test: pytest -q`")
    return command.strip()
