"""`tunnels serve|chat --parent URL --parent-name NAME [--parent-seed FILE]` over `parent:`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import load_settings
from claude_tunnels.remote_agent.credentials import new_seed, write_secret_file
from claude_tunnels.tunnels import cli
from claude_tunnels.tunnels.commands.parent_args import with_parent_arguments


def root_with(tmp_path: Path, parent: dict[str, object] | None = None) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    document = {"parent": parent} if parent else {}
    (root / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
    return root


def seed(tmp_path: Path, name: str = "child.nk") -> Path:
    path = tmp_path / name
    write_secret_file(path, new_seed())
    return path


def loaded_with(root: Path, *argv: str) -> object:
    args = cli._parser().parse_args(["--root", str(root), "serve", *argv])
    return with_parent_arguments(load_settings(root / "orchestrator.yaml", root=root), args)


def test_the_flags_alone_make_the_parent_and_a_relative_seed_is_taken_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = root_with(tmp_path)
    seed(tmp_path)
    monkeypatch.chdir(tmp_path)
    parent = loaded_with(root, "--parent", "nats://hub:4222", "--parent-name", "ml/platform", "--parent-seed", "child.nk",
                         "--parent-js-domain", "hub").settings.parent  # type: ignore[attr-defined]
    assert (parent.url, parent.name, parent.js_domain) == ("nats://hub:4222", "ml/platform", "hub")
    assert parent.nkey_seed_file == str(tmp_path / "child.nk") and parent.creds_file is None


def test_a_flag_overrides_its_key_and_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    creds = tmp_path / "old.creds"
    creds.write_text("x", encoding="utf-8")
    root = root_with(tmp_path, {"url": "nats://old:4222", "name": "ml/platform", "creds_file": str(creds),
                                "description": "The US ML platform.", "heartbeat_s": 2})
    new = seed(tmp_path)
    parent = loaded_with(root, "--parent", "nats://new:4222", "--parent-seed", str(new)).settings.parent  # type: ignore[attr-defined]
    assert (parent.url, parent.name, parent.description, parent.heartbeat_s) == ("nats://new:4222", "ml/platform", "The US ML platform.", 2)
    assert parent.nkey_seed_file == str(new) and parent.creds_file is None  # one login: the flag's
    unchanged = load_settings(root / "orchestrator.yaml", root=root)
    assert loaded_with(root) == unchanged  # no flag: the file as it is


@pytest.mark.parametrize(("argv", "words"), [
    (["--parent", "nats://hub:4222", "--parent-seed", "SEED"], "--parent-name PROJECT/NAME"),
    (["--parent", "nats://hub:4222", "--parent-name", "platform", "--parent-seed", "SEED"], "--parent-name PROJECT/NAME"),
    (["--parent", "nats://hub:4222", "--parent-name", "ml/platform"], "--parent-seed FILE"),
    (["--parent-name", "ml/platform", "--parent-seed", "SEED"], "--parent URL"),
    (["--parent", "nats://hub:4222", "--parent-name", "ml/platform", "--parent-seed", "missing.nk"], "no such file"),
])
def test_an_incomplete_parent_is_refused_in_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str,
) -> None:
    root = root_with(tmp_path)
    path = str(seed(tmp_path))
    argv = [path if a == "SEED" else a for a in argv]
    with pytest.raises(ConfigError) as refused:
        loaded_with(root, *argv)
    assert words in str(refused.value) and "\n" not in str(refused.value)
    # The command itself exits 2 with that line (nothing started).
    assert cli.main(["--root", str(root), "serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tunnels: ") and words in err and "Traceback" not in err
