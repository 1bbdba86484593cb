"""The `tunnels` command line.

Every failure the user can act on is printed as one line on stderr with a non-zero exit code;
tracebacks are for bugs only (and `--debug`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import LoadedSettings, find_config, load_settings
from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.errors import UserError

Command = Callable[[LoadedSettings, argparse.Namespace], Coroutine[Any, Any, int]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunnels", description="Drive Claude Code agents across many projects from a chat.")
    parser.add_argument("--config", type=Path, help="orchestrator.yaml (default: ./orchestrator.yaml if present)")
    parser.add_argument("--root", type=Path, help="the project tree's root (overrides the config's root)")
    parser.add_argument("--debug", action="store_true", help="verbose logs and full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    events = commands.add_parser("events", help="the event stream").add_subparsers(dest="events_command", required=True)
    tail = events.add_parser("tail", help="follow the event stream live")
    tail.add_argument("--request", help="only this request's events")
    tail.add_argument("--session", help="only this session's conversation events")
    tail.add_argument("--json", action="store_true", help="print events as JSON lines")
    tail.add_argument("--from-start", action="store_true", help="print the stored events first")

    replay = commands.add_parser("replay", help="print one request's timeline from the stream")
    replay.add_argument("request_id")
    replay.add_argument("--json", action="store_true", help="print events as JSON lines")

    chat = commands.add_parser("chat", help="talk to the orchestrator in this terminal")
    chat.add_argument("--user", help="who you are (default: channels.terminal.user)")
    chat.add_argument("--scripted-model", metavar="SCENARIO", help="answer with a scripted model (offline) instead of Claude")

    serve = commands.add_parser("serve", help="run the orchestrator with every enabled chat channel (foreground)")
    serve.add_argument("--systemd-unit", action="store_true", help="print a systemd unit running this and exit")

    init = commands.add_parser("init", help="set a new root up: settings, credentials, CLAUDE.md stubs")
    init.add_argument("--yes", action="store_true", help="answer yes to every yes/no question")

    commands.add_parser("doctor", help="check everything a running orchestrator needs and say what to fix")

    demo = commands.add_parser("demo", help="run the main job end to end, offline, on a sample tree")
    demo.add_argument("--dir", default=".tunnels/demo", help="where to lay out the sample tree (replaced)")

    worktrees = commands.add_parser("worktrees", help="the orchestrator's git branches and worktrees: list them, or prune what is stale")
    worktrees.add_argument("--json", action="store_true", help="print one JSON object per branch or entry")
    prune = worktrees.add_subparsers(dest="worktrees_command").add_parser("prune", help="remove the stale worktrees and branches")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument("--all", action="store_true", help="remove everything of ours that no open request needs")

    projections = commands.add_parser("projections", help="the projections").add_subparsers(dest="projections_command", required=True)
    projections.add_parser("rebuild", help="drop every projection and rebuild it from the stream")

    from claude_tunnels.tunnels.commands.deploy import add_parsers  # `agent credentials`, `deploy ssh|k8s`
    from claude_tunnels.tunnels.commands.graph import add_parser as add_graph

    add_parsers(commands)
    add_graph(commands)
    return parser


def _command(args: argparse.Namespace) -> Command:
    from claude_tunnels.tunnels.commands import agent, deploy, events, run

    match args.command:
        case "agent":
            if args.agent_command == "list":
                from claude_tunnels.tunnels.commands.agent_list import list_agents

                return list_agents
            return agent.credentials
        case "deploy":
            return deploy.ssh if args.deploy_command == "ssh" else deploy.k8s
        case "chat":
            return run.chat
        case "demo":
            return run.demo
        case "init":
            from claude_tunnels.tunnels.commands import init

            return init.init
        case "doctor":
            from claude_tunnels.tunnels.commands import doctor

            return doctor.doctor
        case "serve":
            from claude_tunnels.tunnels.commands import serve

            return serve.serve
        case "events":
            return events.tail
        case "replay":
            return events.replay
        case "projections":
            return events.rebuild_projections
        case "graph":
            from claude_tunnels.tunnels.commands.graph import graph

            return graph
        case "worktrees":
            from claude_tunnels.tunnels.commands import worktrees

            return worktrees.prune_worktrees if args.worktrees_command == "prune" else worktrees.list_worktrees
    raise UserError(f"unknown command {args.command}")


def _load(args: argparse.Namespace) -> LoadedSettings:
    if args.command in ("demo", "init"):
        return load_settings(None)  # these write their own settings
    path = args.config or find_config(args.root or Path.cwd())
    return load_settings(path, root=args.root)


def main(argv: list[str] | None = None) -> int:
    """Run `tunnels`; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        loaded = _load(args)
        return asyncio.run(_command(args)(loaded, args))
    except KeyboardInterrupt:
        return 130
    except (ConfigError, BusError, UserError) as err:
        if args.debug:
            raise
        print(f"tunnels: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
