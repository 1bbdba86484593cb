"""The Claude Code plugin in the repository: the bundled CLI's own validation passes for the
plugin and the marketplace, it installs from a clone, and every `tunnels` command its skills tell
Claude to run is one the command line accepts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from claude_tunnels.tunnels.claude.environment import real_cli
from claude_tunnels.tunnels.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tunnels" / "claude_plugin"
SKILLS = {"setup-orchestrator", "connect-slack", "connect-telegram", "remote-workspace"}


def claude(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cli = real_cli(None)  # the one bundled with claude-agent-sdk
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def test_the_plugin_and_the_marketplace_pass_the_clis_strict_validation(tmp_path: Path) -> None:
    plugin = claude(tmp_path, "plugin", "validate", "--strict", "--json", str(PLUGIN))
    report = json.loads(plugin.stdout)
    assert plugin.returncode == 0 and report["success"], plugin.stdout
    assert set(report["provides"]["skills"]) == {f"tunnels-setup:{name}" for name in SKILLS}

    marketplace = claude(tmp_path, "plugin", "validate", "--strict", "--json", str(ROOT))
    assert marketplace.returncode == 0 and json.loads(marketplace.stdout)["success"], marketplace.stdout


def test_it_installs_from_a_clone(tmp_path: Path) -> None:
    added = claude(tmp_path, "plugin", "marketplace", "add", str(ROOT))
    assert added.returncode == 0, added.stderr + added.stdout
    installed = claude(tmp_path, "plugin", "install", "tunnels-setup@tunnels")
    assert installed.returncode == 0, installed.stderr + installed.stdout

    listed = json.loads(claude(tmp_path, "plugin", "list", "--json").stdout)
    ours = next(p for p in listed if p["id"] == "tunnels-setup@tunnels")
    assert ours["enabled"] and Path(ours["readFromFolder"]) == PLUGIN


def _commands() -> list[str]:
    found = []
    for skill in sorted(PLUGIN.glob("skills/*/SKILL.md")):
        found += re.findall(r"`(tunnels [^`]+)`", skill.read_text(encoding="utf-8"))
    return sorted(set(found))


# Placeholders in the skills, and what stands for them here.
_VALUES = {
    "ROOT": "/srv/tree", "PROJECT/NAME": "web/api", "DIR": "/srv/api", "HOST": "box", "NAME": "bot", "U…,U…": "U1,U2",
    "CLAIM": "api-ws", "IMAGE": "registry/tunnels:1",
}


@pytest.mark.parametrize("line", _commands())
def test_every_command_a_skill_runs_is_one_the_command_line_accepts(line: str) -> None:
    words = [_VALUES.get(word, word) for word in shlex.split(line.split(" > ")[0])[1:]]
    if words == ["--version"]:
        return  # argparse's own action (it exits): checked by the command-line tests
    args = _parser().parse_args(words)  # an unknown command or option exits (SystemExit fails the test)

    assert args.command == words[0]
