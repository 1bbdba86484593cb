"""`tunnels serve` starts or refuses in one clear line, keeps trying a platform it cannot reach,
and stops on SIGTERM with exit code 0: the real command against the local Slack and Telegram fakes.

Everything waits on what the command prints or what the fakes receive, never on time passing.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.config.credentials import write_credentials
from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.serving.preflight import CredentialsRefused, check_channels
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60
SLACK_BOT, SLACK_APP = "xoxb-1-serve-bot", "xapp-1-serve-app"
TG_TOKEN = "123456789:AAServeTokenForOfflineTests_abcdefgh"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(tmp_path: Path, *, slack_url: str | None = None, telegram_url: str | None = None) -> Path:
    root = lay_out(tmp_path / "tree")
    channels: dict[str, Any] = {}
    if slack_url is not None:
        channels["slack"] = {"enabled": True, "api_url": slack_url, "allowed_users": ["U0ALICE"]}
        write_credentials(root / "ARCHIVE" / "slack" / "credentials", {"bot_token": SLACK_BOT, "app_token": SLACK_APP})
    if telegram_url is not None:
        channels["telegram"] = {"enabled": True, "api_url": telegram_url, "allowed_users": [5550001]}
        write_credentials(root / "ARCHIVE" / "telegram" / "credentials", {"bot_token": TG_TOKEN})
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}, "channels": channels}))
    return root


async def _serve(root: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "serve", cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root.parent)},
    )


async def _until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> str:
    while True:
        line = (await asyncio.wait_for(stream.readline(), WAIT_S)).decode()
        if not line:
            raise AssertionError(f"serve ended before {marker!r}; it printed:\n{''.join(seen)}")
        seen.append(line)
        if marker in line:
            return line


async def _refused(root: Path) -> tuple[int, list[str]]:
    process = await _serve(root)
    _, err = await asyncio.wait_for(process.communicate(), WAIT_S)
    return process.returncode or 0, err.decode().strip().splitlines()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TG_TOKEN) as fake:
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(SLACK_BOT, SLACK_APP) as fake:
        yield fake


async def test_an_unreachable_slack_is_retried_while_telegram_serves_and_sigterm_stops_it(tmp_path: Path, telegram: FakeTelegram) -> None:
    root = _tree(tmp_path, slack_url=f"http://127.0.0.1:{_closed_port()}/api/", telegram_url=telegram.base_url)
    process = await _serve(root)
    assert process.stderr is not None
    seen: list[str] = []
    try:
        ready = await _until(process.stderr, "tunnels: serving", seen)
        assert "on telegram (slack not reachable yet" in ready
        await telegram.wait_for(lambda: bool(telegram.calls_to("getUpdates")), timeout=WAIT_S)  # Telegram serves
        await _until(process.stderr, "slack: not reachable (attempt 2", seen)  # tried again, one line per attempt
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stderr.read(), WAIT_S)).decode()
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = "".join(seen) + rest
    assert "Traceback" not in text


async def test_serves_both_once_their_tokens_are_accepted(tmp_path: Path, telegram: FakeTelegram, slack: FakeSlack) -> None:
    root = _tree(tmp_path, slack_url=slack.api_url, telegram_url=telegram.base_url)
    process = await _serve(root)
    assert process.stderr is not None
    seen: list[str] = []
    try:
        ready = await _until(process.stderr, "tunnels: serving", seen)
        assert "on slack, telegram;" in ready
        assert slack.calls_to("auth.test") and telegram.calls_to("getMe")
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _set_mode(root: Path) -> None:
    (root / "ARCHIVE" / "telegram" / "credentials").chmod(0o644)


def _drop_token(root: Path) -> None:
    (root / "ARCHIVE" / "telegram" / "credentials").write_text("something_else : 1\n")


def _drop_file(root: Path) -> None:
    (root / "ARCHIVE" / "telegram" / "credentials").unlink()


def _malformed(root: Path) -> None:
    write_credentials(root / "ARCHIVE" / "telegram" / "credentials", {"bot_token": "not-a-token"})


def _wrong_telegram(root: Path) -> None:
    write_credentials(root / "ARCHIVE" / "telegram" / "credentials", {"bot_token": "987654321:AAWrongTokenForOfflineTests_abcdefg"})


SPOILS = [
    (_set_mode, "chmod 600"),
    (_drop_token, "missing `bot_token`"),
    (_drop_file, "missing `bot_token`"),
    (_malformed, "malformed"),
    (_wrong_telegram, "Telegram refused the bot token"),
]


@pytest.mark.parametrize(("spoil", "says"), SPOILS)
async def test_each_bad_telegram_credential_is_named_with_its_fix(tmp_path: Path, telegram: FakeTelegram, spoil: Any, says: str) -> None:
    root = _tree(tmp_path, telegram_url=telegram.base_url)
    spoil(root)
    with pytest.raises((ConfigError, CredentialsRefused)) as refused:  # the same check `serve` runs first, in this process
        await check_channels(load_settings(root / "orchestrator.yaml"), ["telegram"], env={})
    assert says in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(("spoil", "says"), [SPOILS[0], SPOILS[4]])  # a settings error and a refused token
async def test_serve_refuses_a_bad_credential_in_one_line_with_exit_code_2(tmp_path: Path, telegram: FakeTelegram, spoil: Any, says: str) -> None:
    root = _tree(tmp_path, telegram_url=telegram.base_url)
    spoil(root)
    code, lines = await _refused(root)
    assert code == 2 and len(lines) == 1 and says in lines[0], lines
    assert not (root / ".tunnels" / "nats").exists()  # refused before anything started


@pytest.mark.parametrize(("token", "says"), [
    ({"bot_token": "xoxb-1-wrong"}, "Slack refused the bot_token (invalid_auth)"),
    ({"app_token": "xapp-1-wrong"}, "Slack refused the app_token (invalid_auth)"),
    ({"bot_token": "xapp-1-swapped"}, "does not look like a Slack bot token"),
])
async def test_a_wrong_slack_token_is_refused_by_the_fakes_auth_test(tmp_path: Path, slack: FakeSlack, token: dict[str, str], says: str) -> None:
    root = _tree(tmp_path, slack_url=slack.api_url)
    write_credentials(root / "ARCHIVE" / "slack" / "credentials", {"bot_token": SLACK_BOT, "app_token": SLACK_APP, **token})
    with pytest.raises(CredentialsRefused, match=re.escape(says)):
        await check_channels(load_settings(root / "orchestrator.yaml"), ["slack"], env={})


async def test_serve_refuses_a_wrong_slack_token_in_one_line_with_exit_code_2(tmp_path: Path, slack: FakeSlack) -> None:
    root = _tree(tmp_path, slack_url=slack.api_url)
    write_credentials(root / "ARCHIVE" / "slack" / "credentials", {"bot_token": "xoxb-1-wrong", "app_token": SLACK_APP})
    code, lines = await _refused(root)
    assert code == 2 and len(lines) == 1 and "Slack refused the bot_token (invalid_auth)" in lines[0], lines
    assert [call for call, _ in slack.calls] == ["auth.test"]
