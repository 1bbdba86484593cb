"""`tunnels dashboard`: the web dashboard alone, on the running orchestrator's stream; and
`tunnels dashboard token IDENTITY`, which makes a login for it."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.config.settings import DashboardSettings
from claude_tunnels.events.ids import SystemClock
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.cli_support import INCOMPLETE
from claude_tunnels.tunnels.dashboard.auth import new_token, token_hash
from claude_tunnels.tunnels.dashboard.server import Dashboard
from claude_tunnels.tunnels.dashboard.service import StorePoster
from claude_tunnels.tunnels.errors import UserError


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`tunnels dashboard [--bind HOST:PORT]` and `tunnels dashboard token IDENTITY`."""
    dashboard = commands.add_parser("dashboard", help="serve the web dashboard, the JSON API and /metrics alone (foreground)")
    dashboard.add_argument("--bind", metavar="HOST:PORT", help="where to listen (default: dashboard.bind)")
    dashboard.set_defaults(**{INCOMPLETE: False})  # alone, it serves: not a group missing its subcommand
    token = dashboard.add_subparsers(dest="dashboard_command").add_parser("token", help="make a login token for a chat identity")
    token.add_argument("identity", metavar="IDENTITY", help="the chat identity the web user acts as, e.g. slack:U012ABCDEF")


async def dashboard(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; or, with `token`, print a new token and its settings line."""
    if getattr(args, "dashboard_command", None) == "token":
        return _token(args.identity)
    settings = loaded.settings.dashboard
    if args.bind:
        try:
            settings = DashboardSettings(enabled=settings.enabled, bind=args.bind, users=settings.users)
        except ValueError as err:
            raise UserError(f"--bind: {err}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_backbone(loaded, role="reader", name="tunnels-dashboard") as backbone:
            clock = SystemClock()
            async with Dashboard(settings, backbone.store, StorePoster(backbone.store, clock), clock) as web:
                print(f"tunnels: dashboard on {web.url} (events on {backbone.url})", file=sys.stderr, flush=True)
                await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


def _token(identity: str) -> int:
    try:
        DashboardSettings(users={identity: token_hash("x")})
    except ValueError as err:
        raise UserError(str(err).replace("`users.", "`")) from None
    token = new_token()
    print(f"token (give it to {identity}; it is not stored anywhere): {token}")
    print("add to orchestrator.yaml:")
    print(f'dashboard:\n  users:\n    "{identity}": "{token_hash(token)}"')
    return 0
