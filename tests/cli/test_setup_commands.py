"""`tunnels config`, `tunnels config explain`, `tunnels slack manifest`: what a set-up needs, printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from claude_tunnels.channels.slack.manifest import EVENT_SCOPES, METHOD_SCOPES
from claude_tunnels.config import dump_default_settings
from claude_tunnels.config.keys import all_keys

ROOT = Path(__file__).resolve().parents[2]


def tunnels(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claude_tunnels.tunnels.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_config_prints_the_commented_default_settings() -> None:
    printed = tunnels("config")
    assert printed.returncode == 0 and printed.stdout == dump_default_settings()


def test_config_explain_gives_the_type_default_valid_values_and_meaning_of_a_key() -> None:
    timeout = tunnels("config", "explain", "limits.task_timeout_s")
    assert timeout.returncode == 0, timeout.stderr
    assert timeout.stdout.splitlines()[:4] == [
        "limits.task_timeout_s", "  type: a number", "  default: 1800", "  valid: greater than 0",
    ]
    assert "one workspace task" in timeout.stdout  # the example's comment
    mode = json.loads(tunnels("config", "explain", "permissions.bash.mode", "--json").stdout)
    assert mode["type"] == "one of: allowlist, denylist, allow_all, deny_all" and mode["default"] == "allowlist"
    keep = json.loads(tunnels("config", "explain", "git.keep_failed_days", "--json").stdout)
    assert keep["valid"] == "0 or more" and "failed, cancelled or interrupted" in keep["doc"]  # the field's docstring
    section = json.loads(tunnels("config", "explain", "channels.slack", "--json").stdout)
    assert section["type"] == "a section" and "channels.slack.allowed_channels" in section["keys"]

    every = [json.loads(line) for line in tunnels("config", "explain", "--json").stdout.splitlines()]
    assert [info["key"] for info in every] == all_keys()
    assert {"nats.url", "limits.max_cost_usd_per_request", "channels.telegram.allowed_chats", "approvers"} <= set(all_keys())
    assert all(info["doc"] or info["type"] == "a section" for info in every), [i["key"] for i in every if not i["doc"]]

    typo = tunnels("config", "explain", "limits.task_timout_s")
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.count("\n") == 1 and "did you mean `limits.task_timeout_s`?" in typo.stderr


def test_slack_manifest_asks_for_every_scope_the_channel_uses_and_socket_mode() -> None:
    printed = tunnels("slack", "manifest", "--name", "tunnels-bot")
    assert printed.returncode == 0, printed.stderr
    manifest = yaml.safe_load(printed.stdout)
    assert manifest == json.loads(tunnels("slack", "manifest", "--json", "--name", "tunnels-bot").stdout)
    assert manifest["display_information"]["name"] == manifest["features"]["bot_user"]["display_name"] == "tunnels-bot"
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"] is True
    assert set(settings["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {scope for scope in [*METHOD_SCOPES.values(), *EVENT_SCOPES.values()] if scope}
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # direct messages reach the bot
