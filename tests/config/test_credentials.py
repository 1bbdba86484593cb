"""Credentials files: parsing, the mode check, env overrides, and secrets never shown."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from claude_tunnels.config import CredentialsError, Secret, load_credentials, write_credentials

TOKEN = "xoxb-1234-SECRET-token"
APP = "xapp-9:9:SECRET-with-colons"
SLACK_ENV = {"bot_token": "SLACK_BOT_TOKEN", "app_token": "SLACK_APP_TOKEN"}


def credentials_file(archive: Path, text: str, mode: int = 0o600) -> Path:
    path = archive / "slack" / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bot_token : {TOKEN}\n", {"bot_token": TOKEN}),
        (f"bot_token:{TOKEN}\n", {"bot_token": TOKEN}),
        (f"  bot_token   :   {TOKEN}  \n", {"bot_token": TOKEN}),
        (f"app_token : {APP}\n", {"app_token": APP}),
        (f"# a comment\n\nbot_token : {TOKEN}\r\n# app_token : old\n", {"bot_token": TOKEN}),
        (f"\ufeffbot_token : {TOKEN}\n", {"bot_token": TOKEN}),
        ("password : a#b\n", {"password": "a#b"}),
        ("", {}),
    ],
)
def test_parse(tmp_path: Path, text: str, expected: dict[str, str]) -> None:
    credentials_file(tmp_path, text)
    loaded = load_credentials(tmp_path, "slack", env={}, env_keys=SLACK_ENV)
    assert {key: value.reveal() for key, value in loaded.items()} == expected


@pytest.mark.parametrize(
    ("text", "line", "part"),
    [
        (f"bot_token : {TOKEN}\n{TOKEN}\n", 2, "not a `key : value` line"),
        (f"# c\n{TOKEN}SECRET :\n", 2, "nothing after `:`"),
        (f"bot_token : {TOKEN}\nbot_token : {TOKEN}\n", 2, "`bot_token` is given twice"),
        (f"bad key : {TOKEN}\n", 1, "not a `key : value` line"),
    ],
)
def test_malformed_lines_name_the_line_not_the_secret(
    tmp_path: Path, text: str, line: int, part: str
) -> None:
    path = credentials_file(tmp_path, text)
    with pytest.raises(CredentialsError) as caught:
        load_credentials(tmp_path, "slack", env={}, env_keys=SLACK_ENV)
    message = str(caught.value)
    assert caught.value.line == line
    assert message.startswith(f"{path}:{line}: ")
    assert part in message
    assert "SECRET" not in message and "SECRET" not in repr(caught.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o666, 0o700 | 0o020])
def test_a_file_others_can_reach_is_refused(tmp_path: Path, mode: int) -> None:
    path = credentials_file(tmp_path, f"bot_token : {TOKEN}\n", mode)
    with pytest.raises(CredentialsError) as caught:
        load_credentials(tmp_path, "slack", env={}, env_keys=SLACK_ENV)
    assert f"chmod 600 {path}" in str(caught.value)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    credentials_file(tmp_path, f"bot_token : {TOKEN}\n", mode)
    loaded = load_credentials(tmp_path, "slack", env={}, env_keys=SLACK_ENV)
    assert loaded.require("bot_token").reveal() == TOKEN


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLACK_BOT_TOKEN": "from-env"}, "from-env"),
        ({"SLACK_BOT_TOKEN": ""}, TOKEN),  # an empty variable does not count
        ({"OTHER": "x"}, TOKEN),
    ],
)
def test_environment_wins_over_the_file(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    credentials_file(tmp_path, f"bot_token : {TOKEN}\n")
    loaded = load_credentials(tmp_path, "slack", env=env, env_keys=SLACK_ENV)
    assert loaded["bot_token"].reveal() == expected


def test_no_file_only_environment(tmp_path: Path) -> None:
    loaded = load_credentials(tmp_path, "slack", env={"SLACK_APP_TOKEN": APP}, env_keys=SLACK_ENV)
    assert loaded.require("app_token").reveal() == APP
    with pytest.raises(CredentialsError) as caught:
        loaded.require("bot_token")
    assert "SLACK_BOT_TOKEN" in str(caught.value)
    assert "bot_token : <value>" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_secrets_never_show(tmp_path: Path) -> None:
    credentials_file(tmp_path, f"bot_token : {TOKEN}\napp_token : {APP}\n")
    loaded = load_credentials(tmp_path, "slack", env={}, env_keys=SLACK_ENV)
    secret = loaded["bot_token"]
    shown = [repr(secret), str(secret), f"{secret}", repr(loaded), str(loaded), repr(dict(loaded))]
    for text in shown:
        assert "SECRET" not in text
    assert repr(secret) == "Secret('***')"
    assert secret == Secret(TOKEN) and secret != Secret("other")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_invalid_channel_name(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="invalid channel name"):
        load_credentials(tmp_path, "../etc", env={}, env_keys={})


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "ARCHIVE" / "slack" / "credentials"
    write_credentials(path, {"bot_token": TOKEN, "app_token": Secret(APP)})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert sorted(os.listdir(path.parent)) == ["credentials"]  # no temporary file left
    loaded = load_credentials(tmp_path / "ARCHIVE", "slack", env={}, env_keys=SLACK_ENV)
    assert loaded["app_token"].reveal() == APP
    write_credentials(path, {"bot_token": "replaced"})
    loaded = load_credentials(tmp_path / "ARCHIVE", "slack", env={}, env_keys=SLACK_ENV)
    assert dict(loaded) == {"bot_token": Secret("replaced")}


@pytest.mark.parametrize(
    "mapping",
    [
        {"bad key": "v"},
        {"bot_token": "two\nlines SECRET"},
        {"bot_token": " SECRET padded "},
        {"bot_token": ""},
    ],
)
def test_write_refuses_what_cannot_be_read_back(tmp_path: Path, mapping: dict[str, str]) -> None:
    path = tmp_path / "slack" / "credentials"
    with pytest.raises(CredentialsError) as caught:
        write_credentials(path, mapping)
    assert "SECRET" not in str(caught.value)
    assert not path.exists()
