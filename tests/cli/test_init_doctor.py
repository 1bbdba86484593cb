"""`tunnels init` writes a root's settings and private credentials; `tunnels doctor` says what is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import yaml

from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
TG_TOKEN = "123456789:AAFakeTokenForOfflineTests_abcdefghij"


async def tunnels(root: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), *args, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    output, _ = await asyncio.wait_for(process.communicate(stdin.encode()), 120)
    return process.returncode or 0, output.decode()


async def test_init_writes_settings_private_credentials_and_stubs(tmp_path: Path) -> None:
    (tmp_path / "proj" / "ws" / ".claude").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "pr\u043ej" / ".claude").mkdir(parents=True)  # a lookalike of proj: a Cyrillic `о`
    answers = ["", "n", "y", "", "y", "xoxb-1-secret", "xapp-1-secret", "U1, U2", "y", TG_TOKEN, "42", "slack:U9"]
    code, output = await tunnels(tmp_path, "init", stdin="\n".join(answers) + "\n")
    assert code == 0, output
    settings = yaml.safe_load((tmp_path / "orchestrator.yaml").read_text())
    assert settings["channels"]["slack"] == {"enabled": True, "allowed_users": ["U1", "U2"]}
    assert settings["channels"]["telegram"] == {"enabled": True, "allowed_users": [42]}
    assert settings["approvers"] == ["slack:U9"]
    for channel in ("slack", "telegram"):
        path = tmp_path / "ARCHIVE" / channel / "credentials"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "bot_token : xoxb-1-secret" in (tmp_path / "ARCHIVE" / "slack" / "credentials").read_text().replace(": ", " : ").replace("  ", " ")
    assert (tmp_path / "proj" / "CLAUDE.md").exists() and (tmp_path / "proj" / "ws" / "CLAUDE.md").exists()
    assert not (tmp_path / "notes" / "CLAUDE.md").exists()
    assert not (tmp_path / "pr\u043ej" / "CLAUDE.md").exists()  # no stub offered for a name discovery refuses
    assert "left out 'prоj': unsafe folder name: it mixes Latin and Cyrillic letters" in output
    assert "proj/ws" in output and "xoxb-1-secret" not in output and TG_TOKEN not in output


async def test_doctor_checks_each_part_and_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "CLAUDE.md").write_text("# proj\n")
    (tmp_path / "pr\u043ej").mkdir()  # a lookalike of proj (a Cyrillic `о`): left out, and said why
    (tmp_path / "pr\u043ej" / "CLAUDE.md").write_text("# not proj\n")
    for channel, text in (("slack", "bot_token : xoxb-1-fake\napp_token : xapp-1-fake\n"), ("telegram", f"bot_token : {TG_TOKEN}\n")):
        folder = tmp_path / "ARCHIVE" / channel
        folder.mkdir(parents=True)
        (folder / "credentials").write_text(text)
        (folder / "credentials").chmod(0o600)
    async with FakeSlack() as slack, FakeTelegram(token=TG_TOKEN) as telegram:
        (tmp_path / "orchestrator.yaml").write_text(json.dumps({"channels": {
            "slack": {"enabled": True, "allowed_users": ["U1"], "api_url": slack.api_url},
            "telegram": {"enabled": True, "allowed_users": [1], "api_url": telegram.base_url},
        }}))
        code, output = await tunnels(tmp_path, "doctor", env={"ANTHROPIC_API_KEY": "sk-test"})
        assert code == 0, output
        for line in ["project tree: ok", "NATS: ok", "Claude Code: ok", "slack: ok: Slack tokens accepted", "telegram: ok: Telegram token accepted",
                     "sandbox: ok: OS sandbox confines commands: a command wrote inside its workspace and was stopped writing outside it"]:
            assert line in output
        assert "project tree: ok: 1 project(s)" in output
        assert "git: ok: 0 workspace(s) in git (0 repositories), 1 edited in place" in output
        assert "  note: proj: outside git: edited in place, no rollback (`git init` and a first commit there" in output
        assert "left out 'prоj': unsafe folder name: it mixes Latin and Cyrillic letters (U+043E is CYRILLIC SMALL LETTER O)" in output

        (tmp_path / "ARCHIVE" / "telegram" / "credentials").chmod(0o644)
        (tmp_path / "ARCHIVE" / "slack" / "credentials").write_text("bot_token : xoxb-1-wrong\napp_token : xapp-1-fake\n")
        code, output = await tunnels(tmp_path, "doctor", env={"ANTHROPIC_API_KEY": ""})
        assert code == 1
        assert "slack: FAILED: Slack refused a token (invalid_auth)" in output
        assert "telegram: FAILED:" in output and "chmod 600" in output
        assert "model access: FAILED" in output
        assert "xoxb-1-wrong" not in output and TG_TOKEN not in output


async def test_doctor_names_an_unusable_nats_seed_file_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "CLAUDE.md").write_text("# proj\n")
    (tmp_path / "nats.nk").write_text("SUAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
    (tmp_path / "nats.nk").chmod(0o644)
    (tmp_path / "orchestrator.yaml").write_text(json.dumps({"nats": {"url": "nats://127.0.0.1:1", "nkey_seed_file": "nats.nk"}}))
    code, output = await tunnels(tmp_path, "doctor", env={"ANTHROPIC_API_KEY": "sk-test"})
    assert code == 1
    assert "NATS: FAILED:" in output and "chmod 600" in output and "nats.nk" in output
    assert "project tree: ok" in output and "Claude Code: ok" in output  # the other checks still ran
    assert "SUAAAA" not in output


async def test_doctor_refuses_a_host_where_the_sandbox_cannot_run_and_says_when_it_is_off(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "CLAUDE.md").write_text("# proj\n")
    bin_dir = tmp_path / "bin"  # a PATH with bubblewrap but without socat: the CLI would fail open here
    bin_dir.mkdir()
    (bin_dir / "bwrap").symlink_to(shutil.which("bwrap") or "/usr/bin/bwrap")
    code, output = await tunnels(tmp_path, "doctor", env={"ANTHROPIC_API_KEY": "sk-test", "PATH": str(bin_dir)})
    assert code == 1
    assert "sandbox: FAILED: socat not installed (apt-get install socat)" in output
    assert "permissions.sandbox: off" in output

    (tmp_path / "orchestrator.yaml").write_text("permissions:\n  sandbox: off\n")
    code, output = await tunnels(tmp_path, "doctor", env={"ANTHROPIC_API_KEY": "sk-test", "PATH": str(bin_dir)})
    assert "sandbox: ok: OFF (permissions.sandbox: off): workspace agents run their commands unconfined" in output
