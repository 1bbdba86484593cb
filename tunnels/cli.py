"""The `tunnels` command line.

Every failure the user can act on is printed as one line on stderr with a non-zero exit code;
tracebacks are for bugs only (and `--debug`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib import metadata
from pathlib import Path

from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import LoadedSettings, find_config, load_settings
from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.cli_support import INCOMPLETE, Command, add_global_options, configure_logging, exit_on_broken_pipe, finish, incomplete, one_line
from claude_tunnels.tunnels.commands.parent_args import add_parent_arguments, with_parent_arguments
from claude_tunnels.tunnels.commands.setup_parsers import SCRIPTED_MODEL_HELP, add_init_arguments, add_setup_parsers
from claude_tunnels.tunnels.errors import UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunnels", description="Drive Claude Code agents across many projects from a chat.",
        epilog="Global options work before or after the command. `tunnels COMMAND --help` describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"tunnels {_version()}")
    add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    events = commands.add_parser("events", help="the event stream").add_subparsers(dest="events_command")
    tail = events.add_parser("tail", help="follow the event stream live")
    tail.add_argument("--request", metavar="ID", help="one request, from its start; ends when the request has ended")
    tail.add_argument("--session", metavar="KEY", help="only this session's conversation events")
    tail.add_argument("--json", action="store_true", help="print events as JSON lines")
    tail.add_argument("--from-start", action="store_true", help="print the stored events first")

    replay = commands.add_parser("replay", help="print one request's timeline from the stream")
    replay.add_argument("request_id", metavar="REQUEST_ID")
    replay.add_argument("--json", action="store_true", help="print events as JSON lines")

    chat = commands.add_parser("chat", help="talk to the orchestrator in this terminal")
    chat.add_argument("--user", help="who you are (default: channels.terminal.user)")
    chat.add_argument("--scripted-model", metavar="SCENARIO", help=SCRIPTED_MODEL_HELP)
    add_parent_arguments(chat)

    serve = commands.add_parser("serve", help="run the orchestrator with every enabled chat channel (foreground)")
    serve.add_argument("--systemd-unit", action="store_true", help="print a systemd unit running this and exit")
    serve.add_argument("--scripted-model", metavar="SCENARIO", help=SCRIPTED_MODEL_HELP)
    add_parent_arguments(serve)

    init = commands.add_parser("init", help="set a new root up: settings, credentials, CLAUDE.md stubs")
    add_init_arguments(init)

    doctor = commands.add_parser("doctor", help="check everything a running orchestrator needs and say what to fix")
    doctor.add_argument("--json", action="store_true", help="one JSON object: each check, ok or not, and its detail")

    status = commands.add_parser("status", help="which orchestrator is active on a shared NATS cluster, and its term")
    status.add_argument("--json", action="store_true", help="one JSON object: active holder, term, host, pid")
    demo = commands.add_parser("demo", help="run the main job end to end, offline, on a sample tree")
    demo.add_argument("--dir", default=".tunnels/demo", help="where to lay out the sample tree (replaced)")

    worktrees = commands.add_parser("worktrees", help="the orchestrator's git branches and worktrees: list them, or prune what is stale")
    worktrees.add_argument("--json", action="store_true", help="print one JSON object per branch or entry")
    worktrees.set_defaults(**{INCOMPLETE: False})  # alone, it lists: not a group missing its subcommand
    prune = worktrees.add_subparsers(dest="worktrees_command").add_parser("prune", help="remove the stale worktrees and branches")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument("--all", action="store_true", help="remove everything of ours that no open request needs")

    projections = commands.add_parser("projections", help="the projections").add_subparsers(dest="projections_command")
    rebuild = projections.add_parser("rebuild", help="drop every projection and rebuild it from the stream")
    rebuild.add_argument("--json", action="store_true", help="print what was rebuilt as one JSON object")

    from claude_tunnels.tunnels.commands.dashboard import add_parser as add_dashboard
    from claude_tunnels.tunnels.commands.deploy import add_parsers  # `agent credentials`, `deploy ssh|k8s`
    from claude_tunnels.tunnels.commands.graph import add_parser as add_graph

    add_parsers(commands)
    add_graph(commands)
    add_dashboard(commands)
    add_setup_parsers(commands)  # `config`, `nats`, `slack manifest`
    return finish(parser)


def _command(args: argparse.Namespace) -> Command:
    if args.command in ("config", "nats", "slack"):  # quick: none of the orchestrator's imports
        from claude_tunnels.tunnels.commands import setup_info

        return setup_info.COMMANDS[args.command]
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
        case "status":
            from claude_tunnels.tunnels.commands import status

            return status.status
        case "serve":
            from claude_tunnels.tunnels.commands import serve

            return serve.serve
        case "events":
            return events.tail
        case "replay":
            return events.replay
        case "projections":
            return events.rebuild_projections
        case "dashboard":
            from claude_tunnels.tunnels.commands.dashboard import dashboard

            return dashboard
        case "graph":
            from claude_tunnels.tunnels.commands.graph import graph

            return graph
        case "worktrees":
            from claude_tunnels.tunnels.commands import worktrees

            return worktrees.prune_worktrees if args.worktrees_command == "prune" else worktrees.list_worktrees
    raise UserError(f"unknown command {args.command}")


def _load(args: argparse.Namespace) -> LoadedSettings:
    if args.command in ("demo", "init", "config", "slack"):
        return load_settings(None)  # these write their own settings, or print what needs none
    path = args.config or find_config(args.root or Path.cwd())
    loaded = load_settings(path, root=args.root)
    if args.command in ("serve", "chat"):
        loaded = with_parent_arguments(loaded, args)  # `--parent URL …` over `parent:`
    return loaded


def main(argv: list[str] | None = None) -> int:
    """Run `tunnels`; returns the exit code.

    Called bare (or a command group without its subcommand), it prints that help on stdout and
    returns 1, as `git` does: nothing was run, and a script that called it so notices.
    """
    args = _parser().parse_args(argv)
    configure_logging(args.debug)
    try:
        if (group := incomplete(args)) is not None:
            group.print_help()
            return 1
        loaded = _load(args)
        return asyncio.run(_command(args)(loaded, args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return exit_on_broken_pipe()
    except (ConfigError, BusError, UserError) as err:
        if args.debug:
            raise
        _error(str(err))
        return 2
    except Exception as err:  # a bug: one line here, the traceback under --debug
        if args.debug:
            raise
        _error(f"unexpected {type(err).__name__}: {one_line(str(err))} (run again with --debug for the traceback)")
        return 1


def _error(message: str) -> None:
    try:
        print(f"tunnels: {message}", file=sys.stderr)
    except OSError:
        pass  # nobody reads stderr any more either


def _version() -> str:
    try:
        return metadata.version("claude-tunnels")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
