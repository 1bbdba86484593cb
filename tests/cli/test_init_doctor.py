"""`tunnels doctor` says what is wrong, and what to fix (`tunnels init`: tests/cli/test_init.py)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

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
    code, output = await tunnels(tmp_path, "doctor", "--json", env={"ANTHROPIC_API_KEY": "sk-test"})
    assert code == 1
    report = json.loads(output.strip().splitlines()[-1])  # one JSON object, for scripts
    checks = {check["check"]: check for check in report["checks"]}
    assert report["ok"] is False and checks["NATS"]["ok"] is False
    assert "chmod 600" in checks["NATS"]["detail"] and "nats.nk" in checks["NATS"]["detail"]
    assert checks["project tree"]["ok"] and checks["Claude Code"]["ok"]  # the other checks still ran
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
