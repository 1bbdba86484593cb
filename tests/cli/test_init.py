"""`tunnels init` writes a root's settings and private credentials, asks or reads flags, and writes
nothing when it cannot finish."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TG_TOKEN = "123456789:AAFakeTokenForOfflineTests_abcdefghij"
TOKENS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN")


def init(root: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name not in TOKENS}
    return subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "init", *args], cwd=ROOT, input=stdin,
        capture_output=True, text=True, timeout=60, env={**clean, **(env or {})},
    )


def files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_init_asks_and_writes_settings_private_credentials_and_stubs(tmp_path: Path) -> None:
    (tmp_path / "proj" / "ws" / ".claude").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "pr\u043ej" / ".claude").mkdir(parents=True)  # a lookalike of proj: a Cyrillic `о`
    # Slack? tokens, users; Telegram? token, users; approvers; then a stub for notes? for proj? for proj/ws?
    answers = ["y", "xoxb-1-secret", "xapp-1-secret", "U1, U2", "y", TG_TOKEN, "42", "slack:U9", "n", "y", ""]
    result = init(tmp_path, stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    settings = yaml.safe_load((tmp_path / "orchestrator.yaml").read_text())
    assert settings["channels"]["slack"] == {"enabled": True, "allowed_users": ["U1", "U2"]}
    assert settings["channels"]["telegram"] == {"enabled": True, "allowed_users": [42]}
    assert settings["approvers"] == ["slack:U9"]
    for channel in ("slack", "telegram"):
        path = tmp_path / "ARCHIVE" / channel / "credentials"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "bot_token : xoxb-1-secret" in (tmp_path / "ARCHIVE" / "slack" / "credentials").read_text()
    assert (tmp_path / "proj" / "CLAUDE.md").exists() and (tmp_path / "proj" / "ws" / "CLAUDE.md").exists()
    assert not (tmp_path / "notes" / "CLAUDE.md").exists()
    assert not (tmp_path / "pr\u043ej" / "CLAUDE.md").exists()  # no stub offered for a name discovery refuses
    output = result.stdout + result.stderr
    assert "left out 'prоj': unsafe folder name: it mixes Latin and Cyrillic letters" in output
    assert "proj/ws" in output and "xoxb-1-secret" not in output and TG_TOKEN not in output


def test_init_yes_asks_nothing_takes_tokens_from_the_environment_and_never_widens_access(tmp_path: Path) -> None:
    (tmp_path / "alpha" / "api" / ".claude").mkdir(parents=True)  # looks like a project: a stub by default
    (tmp_path / "notes").mkdir()  # does not: left alone
    env = {"SLACK_BOT_TOKEN": "xoxb-1-from-env", "SLACK_APP_TOKEN": "xapp-1-from-env"}

    refused = init(tmp_path, "--yes", "--slack", env=env)  # no user ids: --yes does not open the bot to everyone
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "--slack-users" in refused.stderr and "nothing written" in refused.stderr
    assert files(tmp_path) == set()

    done = init(tmp_path, "--yes", "--slack", "--slack-users", "U1,U2", "--approvers", "slack:U1", env=env)
    assert done.returncode == 0, done.stderr
    settings = yaml.safe_load((tmp_path / "orchestrator.yaml").read_text())
    assert settings["channels"] == {"slack": {"enabled": True, "allowed_users": ["U1", "U2"]}}
    assert "allow_everyone" not in (tmp_path / "orchestrator.yaml").read_text()
    assert "app_token : xapp-1-from-env" in (tmp_path / "ARCHIVE" / "slack" / "credentials").read_text()
    assert files(tmp_path) == {"orchestrator.yaml", "ARCHIVE/slack/credentials", "alpha/CLAUDE.md", "alpha/api/CLAUDE.md"}

    kept = init(tmp_path, "--yes")  # an existing orchestrator.yaml is replaced only with --force
    assert kept.returncode == 2 and "--force" in kept.stderr
    everyone = init(tmp_path, "--yes", "--force", "--telegram", "--allow-everyone", env={"TELEGRAM_BOT_TOKEN": TG_TOKEN})
    assert everyone.returncode == 0, everyone.stderr  # widening access takes its own flag
    assert yaml.safe_load((tmp_path / "orchestrator.yaml").read_text())["channels"]["telegram"]["allow_everyone"] is True


def test_init_without_a_token_or_with_a_malformed_one_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "alpha" / ".claude").mkdir(parents=True)
    missing = init(tmp_path, "--yes", "--telegram", "--telegram-users", "42")
    assert missing.returncode == 2 and "TELEGRAM_BOT_TOKEN" in missing.stderr
    malformed = init(tmp_path, "--yes", "--telegram", "--telegram-users", "42", env={"TELEGRAM_BOT_TOKEN": "not-a-token"})
    assert malformed.returncode == 2 and "malformed" in malformed.stderr and "not-a-token" not in malformed.stderr
    # Typed on stdin, one question at a time: an empty token is refused the same way.
    typed = init(tmp_path, stdin="n\ny\n\n")
    assert typed.returncode == 2 and "no telegram bot token" in typed.stderr
    # Nobody listed and Enter at "let everyone use the bot": the answer is no, and nothing is written.
    everyone = init(tmp_path, stdin=f"n\ny\n{TG_TOKEN}\n\n\n")
    assert everyone.returncode == 2 and "--allow-everyone" in everyone.stderr and "nothing written" in everyone.stderr
    assert files(tmp_path) == set()


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "alpha" / "api" / ".claude").mkdir(parents=True)
    (tmp_path / "ARCHIVE").write_text("a file where the credentials folder goes")
    result = init(tmp_path, "--yes", "--slack", "--slack-users", "U1",
                  env={"SLACK_BOT_TOKEN": "xoxb-1-a", "SLACK_APP_TOKEN": "xapp-1-b"})
    assert result.returncode == 2 and result.stderr.startswith("tunnels: could not write the settings")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert files(tmp_path) == {"ARCHIVE"}  # the stubs it had written were taken back; no settings
