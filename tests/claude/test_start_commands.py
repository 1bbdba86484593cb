"""Which workspaces name commands their CLI may run at start (not warmed before approval)."""

from __future__ import annotations

import json
from pathlib import Path

from claude_tunnels.tunnels.claude.start_commands import start_commands


def settings(folder: Path, name: str, content: object) -> None:
    (folder / ".claude").mkdir(parents=True, exist_ok=True)
    (folder / ".claude" / name).write_text(content if isinstance(content, str) else json.dumps(content))


def test_hooks_helpers_and_unreadable_settings_count_plain_settings_do_not(tmp_path: Path) -> None:
    plain, hooked, helper, broken, local = (tmp_path / n for n in ("plain", "hooked", "helper", "broken", "local"))
    settings(plain, "settings.json", {"permissions": {"allow": ["Read"]}, "hooks": {}})
    settings(hooked, "settings.json", {"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "x"}]}]}})
    settings(helper, "settings.json", {"statusLine": {"type": "command", "command": "x"}})
    settings(broken, "settings.json", "{not json")
    settings(local, "settings.local.json", {"apiKeyHelper": "cat key"})
    assert start_commands(plain) == []
    assert [s.rsplit(": ", 1)[-1] for s in start_commands(hooked)] == ["hooks"]
    assert [s.rsplit(": ", 1)[-1] for s in start_commands(helper)] == ["statusLine"]
    assert start_commands(broken)[0].endswith("(unreadable)")
    assert [s.rsplit(": ", 1)[-1] for s in start_commands(local)] == ["apiKeyHelper"]


def test_the_folders_up_to_the_worktree_root_are_looked_at(tmp_path: Path) -> None:
    inner = tmp_path / "repo" / "apps" / "web"
    inner.mkdir(parents=True)
    settings(tmp_path / "repo", "settings.json", {"hooks": {"SessionStart": []}, "statusLine": {"command": "x"}})
    assert start_commands(inner) == []
    assert len(start_commands(inner, tmp_path / "repo")) == 2
    settings(tmp_path, "settings.json", {"statusLine": "x"})  # above the root: not looked at
    assert len(start_commands(inner, tmp_path / "repo")) == 2
