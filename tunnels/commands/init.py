"""`tunnels init`: set a new root up, as the original's setup wizard did.

Asks for the root and the chat channels, discovers the workspaces, offers a `CLAUDE.md` stub
where one is missing, and writes `orchestrator.yaml` and the credentials files (mode 0600).
Secrets are read without echo on a terminal, and never written anywhere but the credentials files.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

import yaml

from claude_tunnels.actors.tree.names import component_problem
from claude_tunnels.config.credentials import credentials_path, write_credentials
from claude_tunnels.config.loader import CONFIG_NAME, LoadedSettings, parse_settings
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.errors import UserError

_STUB = "# {name}\n\nWhat this is, how to build and test it, and what an agent working here must know.\n"


class Prompter:
    """Questions on stdin (secrets without echo when stdin is a terminal)."""

    def __init__(self, assume_yes: bool = False) -> None:
        self.assume_yes = assume_yes

    def ask(self, question: str, default: str = "") -> str:
        shown = f" [{default}]" if default else ""
        print(f"{question}{shown}: ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return default
        return line.strip() or default

    def yes(self, question: str, default: bool = False) -> bool:
        if self.assume_yes:
            return True
        answer = self.ask(f"{question} ({'Y/n' if default else 'y/N'})").lower()
        return default if not answer else answer in ("y", "yes")

    def secret(self, question: str) -> str:
        if sys.stdin.isatty():
            return getpass.getpass(f"{question}: ").strip()
        print(f"{question}: ", end="", flush=True)
        return sys.stdin.readline().strip()


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]


def _offer_stubs(root: Path, prompter: Prompter, state_dir: str, archive_dir: str) -> None:
    skip = {state_dir, archive_dir, ".tasks"}
    # A folder whose name discovery refuses (a lookalike, say) gets no stub: it is listed as left out.
    candidates = (p for p in root.iterdir() if p.is_dir() and p.name not in skip and not component_problem(p.name))
    for folder in sorted(candidates):
        if not (folder / "CLAUDE.md").exists() and prompter.yes(f"{folder.name} has no CLAUDE.md; make it a project with a stub"):
            (folder / "CLAUDE.md").write_text(_STUB.format(name=folder.name), encoding="utf-8")
    tree = discover(root, exclude=[root / state_dir, root / archive_dir])
    for workspace in tree.workspaces():
        if workspace.path is not None and not (workspace.path / "CLAUDE.md").exists():
            if prompter.yes(f"workspace {workspace.qualified} has .claude/ but no CLAUDE.md; write a stub", default=True):
                (workspace.path / "CLAUDE.md").write_text(_STUB.format(name=workspace.qualified), encoding="utf-8")


def _channel(prompter: Prompter, name: str, secrets: dict[str, str], ids_are_numbers: bool) -> dict[str, Any]:
    credentials = {key: prompter.secret(f"{name} {key.replace('_', ' ')}") for key in secrets}
    users = _ids(prompter.ask(f"{name} user ids allowed to use the bot (comma separated)"))
    section: dict[str, Any] = {"enabled": True}
    if users:
        section["allowed_users"] = [int(u) for u in users] if ids_are_numbers else users
    else:
        section["allow_everyone"] = prompter.yes(f"nobody listed: let everyone who can reach the {name} bot use it")
        if not section["allow_everyone"]:
            raise UserError(f"{name} needs allowed user ids (or allow_everyone); run tunnels init again")
    secrets.update(credentials)
    return section


async def init(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """The wizard."""
    prompter = Prompter(assume_yes=args.yes)
    root = Path(prompter.ask("Project tree root", str(args.root or Path.cwd()))).expanduser().absolute()
    if not root.is_dir():
        raise UserError(f"{root} is not a folder; create it or give another root")
    config_path = root / CONFIG_NAME
    if config_path.exists() and not prompter.yes(f"{config_path} exists; replace it"):
        raise UserError(f"kept {config_path}; nothing written")
    settings: dict[str, Any] = {"root": ".", "channels": {}}
    _offer_stubs(root, prompter, ".tunnels", "ARCHIVE")
    credentials: dict[str, dict[str, str]] = {}
    if prompter.yes("Connect Slack (Socket Mode)"):
        slack = {"bot_token": "", "app_token": ""}
        settings["channels"]["slack"] = _channel(prompter, "slack", slack, ids_are_numbers=False)
        credentials["slack"] = slack
    if prompter.yes("Connect Telegram"):
        telegram = {"bot_token": ""}
        settings["channels"]["telegram"] = _channel(prompter, "telegram", telegram, ids_are_numbers=True)
        credentials["telegram"] = telegram
    approvers = _ids(prompter.ask("Approvers besides the requester (channel:id, comma separated)", ""))
    if approvers:
        settings["approvers"] = approvers
    text = "# Written by `tunnels init`; see the README for every key.\n" + yaml.safe_dump(settings, sort_keys=False)
    parse_settings(text, file=config_path)  # refuse to write what would not load
    config_path.write_text(text, encoding="utf-8")
    for channel, values in credentials.items():
        write_credentials(credentials_path(root / "ARCHIVE", channel), values)
    tree = discover(root, exclude=[root / ".tunnels", root / "ARCHIVE"])
    print(f"\nWrote {config_path}" + "".join(f" and {credentials_path(root / 'ARCHIVE', c)} (mode 600)" for c in credentials))
    print(f"Found {len(tree.projects)} project(s), {len(tree.workspaces())} workspace(s):")
    for workspace in tree.workspaces():
        print(f"  {workspace.qualified}")
    for line in tree.left_out():
        print(f"  left out {line}")
    print(f"Next: tunnels --root {root} doctor, then tunnels --root {root} serve")
    return 0
