"""child_environment(): an allowlist of our environment, plus what the caller names."""

from __future__ import annotations

import pytest

from claude_tunnels.tunnels.childenv import DEFAULT_KEEP, child_environment

OURS = {
    "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "LC_TIME": "en_GB.UTF-8", "TZ": "UTC",
    "HOME": "/home/ann", "SLACK_BOT_TOKEN": "xoxb-test", "TELEGRAM_BOT_TOKEN": "1:abc",
    "ANTHROPIC_API_KEY": "sk-ant-test", "LCX": "not a locale variable",
}


def test_only_the_allowlisted_variables_are_kept() -> None:
    assert child_environment(source=OURS) == {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "LC_TIME": "en_GB.UTF-8", "TZ": "UTC",
    }


def test_extra_variables_are_added_and_win() -> None:
    env = child_environment({"HOME": "/tmp/isolated", "TZ": "Europe/Paris"}, source=OURS)
    assert env["HOME"] == "/tmp/isolated" and env["TZ"] == "Europe/Paris"
    assert "SLACK_BOT_TOKEN" not in env


def test_a_caller_may_keep_more_by_name_or_prefix() -> None:
    env = child_environment(keep=(*DEFAULT_KEEP, "HOME", "TELEGRAM_*"), source=OURS)
    assert env["HOME"] == "/home/ann" and env["TELEGRAM_BOT_TOKEN"] == "1:abc"
    assert "ANTHROPIC_API_KEY" not in env


def test_the_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("TZ", "UTC")
    env = child_environment()
    assert env["TZ"] == "UTC" and "SLACK_BOT_TOKEN" not in env


@pytest.mark.parametrize("name", ["", "A=B", "NUL\0"])
def test_a_name_the_os_cannot_pass_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot pass the environment variable"):
        child_environment({name: "x"}, source={})
