"""`tunnels-agent` options: command line over environment over config file; secrets never on argv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claude_tunnels.remote_agent.cli import build_parser, parse
from claude_tunnels.remote_agent.credentials import new_seed, write_secret_file
from claude_tunnels.remote_agent.errors import SettingsError
from claude_tunnels.remote_agent.settings import parse_env_file, read_secrets
from claude_tunnels.tunnels.agent_main import main


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def base(ws: Path) -> list[str]:
    return ["--nats", "nats://hub.example:4222", "--workspace", "shop/api", "--path", str(ws)]


@pytest.mark.parametrize("option", ["--password", "--nkey-seed", "--seed", "--token"])
@pytest.mark.parametrize("form", ["separate", "equals"])
def test_secrets_on_the_command_line_are_refused(option: str, form: str, ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "hunter2-not-for-argv"
    args = [*base(ws), *([option, secret] if form == "separate" else [f"{option}={secret}"])]
    with pytest.raises(SystemExit) as exit_info:
        parse(args, {})
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{option} is refused: secrets never go on the command line" in err
    assert "-file" in err or "--creds" in err  # it says what to use instead


def test_option_prefixes_are_not_expanded(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--password-f` must not silently mean --password-file (nor --password mean it)
    with pytest.raises(SystemExit):
        parse([*base(ws), "--password-f", "x"], {})
    assert "unrecognized arguments: --password-f" in capsys.readouterr().err
    assert build_parser().allow_abbrev is False


def test_credentials_in_the_url_are_refused(ws: Path) -> None:
    args = ["--nats", "nats://agent:s3cret@hub:4222", "--workspace", "shop/api", "--path", str(ws)]
    with pytest.raises(SettingsError, match="must not hold credentials"):
        parse(args, {})


def test_command_line_wins_over_environment_over_config_file(ws: Path, tmp_path: Path) -> None:
    config = tmp_path / "etc" / "agent.yaml"
    config.parent.mkdir()
    config.write_text(
        f"nats: nats://from-file:4222\nworkspace: shop/api\npath: {ws}\nheartbeat_s: 7\n"
        "drain_timeout_s: 11\nstate_dir: state\nenv_file: agent.env\n", encoding="utf-8",
    )
    env = {"TUNNELS_AGENT_HEARTBEAT_S": "3", "TUNNELS_AGENT_NATS": "tls://from-env:4222"}
    settings, _ = parse(["--config", str(config), "--heartbeat-s", "1"], env)
    assert (settings.heartbeat_s, settings.nats, settings.drain_timeout_s) == (1.0, "tls://from-env:4222", 11.0)
    settings, _ = parse(["--config", str(config)], env)
    assert settings.heartbeat_s == 3.0
    settings, _ = parse(["--config", str(config)], {})
    assert (settings.heartbeat_s, settings.nats) == (7.0, "nats://from-file:4222")
    # relative paths in the file are taken from the file's folder
    assert settings.state_dir == str(config.parent / "state") and settings.env_file == str(config.parent / "agent.env")
    settings, _ = parse([], {"TUNNELS_AGENT_CONFIG": str(config)})
    assert settings.nats == "nats://from-file:4222"


def test_config_file_refuses_secret_values_and_unknown_keys(ws: Path, tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(f"nats: nats://h:4222\nworkspace: shop/api\npath: {ws}\npassword: hunter2\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="`password` holds a secret") as info:
        parse(["--config", str(config)], {})
    assert "hunter2" not in str(info.value)
    config.write_text(f"nats: nats://h:4222\nworkspace: shop/api\npath: {ws}\nheartbeat: 5\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown field `heartbeat`"):
        parse(["--config", str(config)], {})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "api"], "qualified as project/name"),
        (["--workspace", "shop/../etc"], "`..` components are not allowed"),
        (["--workspace", "sh\u043ep/api"], "mixes Latin and Cyrillic letters"),  # a lookalike of shop/api
        (["--heartbeat-s", "0"], "`heartbeat_s` must be a positive number"),
        (["--stream", "bad.name"], "`stream` must be"),
        (["--user", "u", "--nkey-seed-file", "f"], "choose one way to authenticate"),
        (["--tls-cert", "c.pem"], "`tls_cert` and `tls_key` go together"),
        (["--nats", "http://h:80"], "`nats` must be a URL"),
        (["--js-domain", "hub.>"], "`js_domain` must be"),
    ],
)
def test_invalid_settings_say_what_to_fix(args: list[str], message: str, ws: Path) -> None:
    with pytest.raises(SettingsError, match=message):
        parse([*base(ws), *args], {})


def test_missing_options_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="missing --workspace, --path"):
        parse(["--nats", "nats://h:4222"], {})
    with pytest.raises(SettingsError, match="does not exist"):
        parse(["--nats", "nats://h:4222", "--workspace", "shop/api", "--path", str(tmp_path / "nope")], {})


def test_secrets_come_from_files_of_mode_0600_or_the_environment(ws: Path, tmp_path: Path) -> None:
    seed = new_seed()
    seed_file = tmp_path / "agent.nk"
    write_secret_file(seed_file, seed)
    assert os.stat(seed_file).st_mode & 0o777 == 0o600
    settings, _ = parse([*base(ws), "--nkey-seed-file", str(seed_file)], {})
    assert read_secrets(settings, {}).nkey_seed == seed
    assert "SU" not in repr(read_secrets(settings, {}))  # secrets do not print
    os.chmod(seed_file, 0o644)
    with pytest.raises(SettingsError, match=f"chmod 600 {seed_file}"):
        read_secrets(settings, {})
    # from the environment
    settings, _ = parse(base(ws), {})
    assert read_secrets(settings, {"TUNNELS_AGENT_NKEY_SEED": seed.reveal()}).nkey_seed == seed
    with pytest.raises(SettingsError, match="not a user seed"):
        read_secrets(settings, {"TUNNELS_AGENT_NKEY_SEED": "SAxxxx"})
    settings, _ = parse([*base(ws), "--user", "agent"], {})
    assert read_secrets(settings, {"TUNNELS_AGENT_PASSWORD": "pw"}).password is not None
    with pytest.raises(SettingsError, match="--password-file FILE or TUNNELS_AGENT_PASSWORD"):
        read_secrets(settings, {})


def test_env_file_lines() -> None:
    text = "# model\nexport ANTHROPIC_BASE_URL=http://127.0.0.1:9\nANTHROPIC_API_KEY='k=v'\n\nEMPTY=\n"
    assert parse_env_file(text, "f") == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "k=v", "EMPTY": ""}
    with pytest.raises(SettingsError, match="f:1: expected KEY=VALUE"):
        parse_env_file("not a line", "f")


def test_main_reports_a_bad_setting_in_one_line(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nats", "nats://h:4222", "--workspace", "api", "--path", str(ws)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tunnels-agent: invalid agent settings:") and "\n" not in err and "Traceback" not in err
