"""`tunnels init`: set a new root up, as the original's setup wizard did.

Asks for the root and the chat channels, discovers the workspaces, offers a `CLAUDE.md` stub
where one is missing, and writes `orchestrator.yaml` and the credentials files (mode 0600).

Three rules:
- It never widens access by default: "let everyone use the bot" is only ever yes when a person
  types yes (or passes `--allow-everyone`); `--yes` accepts the defaults, and that default is no.
- Every question has a flag, and tokens come from the environment (`SLACK_BOT_TOKEN`,
  `SLACK_APP_TOKEN`, `TELEGRAM_BOT_TOKEN`, the variables the channels read), so `--yes` asks
  nothing. Tokens are never taken from the command line, where `ps` and shell histories show them.
- Nothing is written until everything is known and valid; then each file is written atomically,
  the settings last, and a failure while writing removes what this run wrote.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from claude_tunnels.actors.tree.names import component_problem
from claude_tunnels.config.credentials import credentials_path, write_credentials
from claude_tunnels.config.loader import CONFIG_NAME, LoadedSettings, parse_settings
from claude_tunnels.tunnels.commands.init_checks import check_token, workspace_like
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.errors import UserError

_STUB = "# {name}\n\nWhat this is, how to build and test it, and what an agent working here must know.\n"
STATE_DIR, ARCHIVE_DIR = ".tunnels", "ARCHIVE"


class Prompter:
    """Questions on stdin (secrets without echo when stdin is a terminal); with `assume_defaults`
    (`--yes`), no question is asked and each gets its default answer."""

    def __init__(self, assume_defaults: bool = False) -> None:
        self.assume_defaults = assume_defaults

    def ask(self, question: str, default: str = "") -> str:
        if self.assume_defaults:
            return default
        shown = f" [{default}]" if default else ""
        print(f"{question}{shown}: ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return default
        return line.strip() or default

    def yes(self, question: str, default: bool = False) -> bool:
        if self.assume_defaults:
            return default
        answer = self.ask(f"{question} ({'Y/n' if default else 'y/N'})").lower()
        return default if not answer else answer in ("y", "yes")

    def secret(self, question: str) -> str:
        if self.assume_defaults:
            return ""
        if sys.stdin.isatty():
            return getpass.getpass(f"{question}: ").strip()
        print(f"{question}: ", end="", flush=True)
        return sys.stdin.readline().strip()


@dataclass
class Plan:
    """Everything `init` will write, decided before anything is."""

    root: Path
    settings: dict[str, Any] = field(default_factory=lambda: {"root": ".", "channels": {}})
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME


@dataclass(frozen=True)
class ChannelSpec:
    """What a chat channel needs from `init`."""

    name: str
    tokens: dict[str, str]  # credential key -> the environment variable that gives it
    users_flag: str
    ids_are_numbers: bool


SLACK = ChannelSpec("slack", {"bot_token": "SLACK_BOT_TOKEN", "app_token": "SLACK_APP_TOKEN"}, "--slack-users", False)
TELEGRAM = ChannelSpec("telegram", {"bot_token": "TELEGRAM_BOT_TOKEN"}, "--telegram-users", True)


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]


def _offer_stubs(root: Path, prompter: Prompter, written: list[Path]) -> None:
    """Offer a `CLAUDE.md` stub to each folder that would be a project, then to each workspace of
    the projects found (a project's stub is written before its workspaces are looked for)."""
    skip = {STATE_DIR, ARCHIVE_DIR, ".tasks"}
    # A folder whose name discovery refuses (a lookalike, say) gets no stub: it is listed as left out.
    candidates = (p for p in root.iterdir() if p.is_dir() and p.name not in skip and not component_problem(p.name))
    for folder in sorted(candidates):
        # Yes by default only for what looks like a project already (a .claude/ or .git in it, or a
        # workspace below it): a stub makes the folder visible to the agents.
        if not (folder / "CLAUDE.md").exists() and prompter.yes(
            f"{folder.name} has no CLAUDE.md; make it a project with a stub", default=workspace_like(folder),
        ):
            _write_new(folder / "CLAUDE.md", _STUB.format(name=folder.name), written)
    tree = discover(root, exclude=[root / STATE_DIR, root / ARCHIVE_DIR])
    for workspace in tree.workspaces():
        if workspace.path is not None and not (workspace.path / "CLAUDE.md").exists():
            if prompter.yes(f"workspace {workspace.qualified} has .claude/ but no CLAUDE.md; write a stub", default=True):
                _write_new(workspace.path / "CLAUDE.md", _STUB.format(name=workspace.qualified), written)


def _channel(plan: Plan, prompter: Prompter, spec: ChannelSpec, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    credentials: dict[str, str] = {}
    for key, variable in spec.tokens.items():
        value = env.get(variable, "").strip() or prompter.secret(f"{spec.name} {key.replace('_', ' ')} (or set {variable})")
        check_token(spec.name, key, value, variable)
        credentials[key] = value
    given = getattr(args, spec.users_flag.removeprefix("--").replace("-", "_"))
    users = _ids(given) if given is not None else _ids(prompter.ask(f"{spec.name} user ids allowed to use the bot (comma separated)"))
    section: dict[str, Any] = {"enabled": True}
    if users:
        try:
            section["allowed_users"] = [int(u) for u in users] if spec.ids_are_numbers else users
        except ValueError:
            raise UserError(f"{spec.name} user ids are numbers, got {', '.join(users)}; give them with {spec.users_flag}") from None
    elif args.allow_everyone or prompter.yes(f"nobody listed: let everyone who can reach the {spec.name} bot use it"):
        section["allow_everyone"] = True
    else:
        raise UserError(
            f"{spec.name} needs the user ids allowed to use the bot: give {spec.users_flag} ID,ID (or "
            "--allow-everyone to let anyone who can reach the bot use it); nothing written"
        )
    plan.settings["channels"][spec.name] = section
    plan.credentials[spec.name] = credentials


def decide(args: argparse.Namespace, prompter: Prompter, env: Mapping[str, str]) -> Plan:
    """Ask about the root, the channels and the approvers, and check the answers; a `UserError`
    (nothing written) when something is missing or wrong."""
    default_root = str(args.root or Path.cwd())
    root = Path(args.root if args.root is not None else prompter.ask("Project tree root", default_root)).expanduser().absolute()
    if not root.is_dir():
        raise UserError(f"{root} is not a folder; create it or give another root")
    plan = Plan(root=root)
    if plan.config_path.exists() and not (args.force or prompter.yes(f"{plan.config_path} exists; replace it")):
        raise UserError(f"kept {plan.config_path}; nothing written (pass --force to replace it)")
    for spec, flag in ((SLACK, args.slack), (TELEGRAM, args.telegram)):
        label = "Connect Slack (Socket Mode)" if spec is SLACK else "Connect Telegram"
        if flag or prompter.yes(label):
            _channel(plan, prompter, spec, args, env)
    approvers = _ids(args.approvers) if args.approvers is not None else _ids(
        prompter.ask("Approvers besides the requester (channel:id, comma separated)", ""))
    if approvers:
        plan.settings["approvers"] = approvers
    parse_settings(settings_text(plan), file=plan.config_path)  # refuse to write what would not load
    return plan


def settings_text(plan: Plan) -> str:
    """The `orchestrator.yaml` that `plan` writes."""
    return (
        "# Written by `tunnels init`. Every key, with its default and what it means: `tunnels config`\n"
        "# and `tunnels config explain KEY`.\n" + yaml.safe_dump(plan.settings, sort_keys=False)
    )


def write(plan: Plan, prompter: Prompter) -> None:
    """Offer the stubs (written as answered), then write the credentials and the settings, each
    atomically; on a failure, remove every file this run wrote and re-raise."""
    written: list[Path] = []
    try:
        _offer_stubs(plan.root, prompter, written)
        for channel, values in plan.credentials.items():
            path = credentials_path(plan.root / ARCHIVE_DIR, channel)
            existed = path.exists()
            write_credentials(path, values)  # atomic, mode 0600
            if not existed:
                written.append(path)
        _write_new(plan.config_path, settings_text(plan), written, replace=True)
    except BaseException:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        raise


def _write_new(path: Path, text: str, written: list[Path], *, replace: bool = False) -> None:
    """Write `path` atomically (a temporary file renamed into place); note it in `written` when new."""
    if path.exists() and not replace:
        return
    existed = path.exists()
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    if not existed:
        written.append(path)


async def init(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """The wizard."""
    prompter = Prompter(assume_defaults=args.yes)
    plan = decide(args, prompter, os.environ)
    try:
        write(plan, prompter)
    except OSError as err:
        raise UserError(f"could not write the settings: {err}; nothing was kept") from None
    root = plan.root
    tree = discover(root, exclude=[root / STATE_DIR, root / ARCHIVE_DIR])
    print(f"\nWrote {plan.config_path}" + "".join(f" and {credentials_path(root / ARCHIVE_DIR, c)} (mode 600)" for c in plan.credentials))
    print(f"Found {len(tree.projects)} project(s), {len(tree.workspaces())} workspace(s):")
    for workspace in tree.workspaces():
        print(f"  {workspace.qualified}")
    for line in tree.left_out():
        print(f"  left out {line}")
    print(f"Next: tunnels --root {root} doctor, then tunnels --root {root} serve")
    return 0
