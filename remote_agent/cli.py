"""The `tunnels-agent` command line: serve one workspace of this host to an orchestrator over NATS.

Options may also come from `TUNNELS_AGENT_<OPTION>` environment variables or a `--config` YAML
file with the same keys (`heartbeat_s: 5`); the command line wins. Secrets are accepted only
from files (`--nkey-seed-file`, `--password-file`, `--creds`) or the environment
(`TUNNELS_AGENT_NKEY_SEED`, `TUNNELS_AGENT_PASSWORD`): a command line is visible to every
user of the host.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from claude_tunnels.remote_agent.agent import WorkspaceAgent
from claude_tunnels.remote_agent.errors import ConnectionClosed, SettingsError
from claude_tunnels.remote_agent.ports import AgentPorts
from claude_tunnels.remote_agent.settings import PASSWORD_ENV, SEED_ENV, AgentSecrets, AgentSettings, load_settings, read_secrets

_REFUSED = {
    "--password": f"--password-file FILE (mode 0600) or {PASSWORD_ENV}",
    "--nkey-seed": f"--nkey-seed-file FILE (mode 0600) or {SEED_ENV}",
    "--seed": f"--nkey-seed-file FILE (mode 0600) or {SEED_ENV}",
    "--token": "an nkey (--nkey-seed-file) or --creds FILE",
}


class _Refused(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: str | None = None) -> None:
        parser.error(f"{option} is refused: secrets never go on the command line (other users can read it); use {_REFUSED[str(option)]}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (abbreviations off: `--password` must never mean `--password-file`)."""
    parser = argparse.ArgumentParser(
        prog="tunnels-agent", allow_abbrev=False,
        description="Serve one workspace of this host to a claude-tunnels orchestrator over NATS.",
    )
    add = parser.add_argument
    add("--config", type=Path, help="a YAML file with the same keys as these options (nats, workspace, path, …)")
    add("--nats", metavar="URL", help="the NATS server: nats://host:4222 or tls://host:4222 (no credentials in it)")
    add("--workspace", metavar="PROJECT/NAME", help="the qualified workspace this agent serves")
    add("--path", metavar="DIR", help="the workspace folder on this host")
    add("--creds", "--creds-file", dest="creds_file", metavar="FILE", help="a NATS .creds file (JWT + seed)")
    add("--nkey-seed-file", metavar="FILE", help="the nkey seed from `tunnels agent credentials` (mode 0600)")
    add("--user", help="a NATS user (with --password-file or TUNNELS_AGENT_PASSWORD)")
    add("--password-file", metavar="FILE", help="the NATS user's password (mode 0600)")
    add("--tls-ca", metavar="FILE", help="CA bundle to verify the server")
    add("--tls-cert", metavar="FILE", help="client certificate (mutual TLS)")
    add("--tls-key", metavar="FILE", help="client key (mutual TLS)")
    add("--prefix", help="subject prefix (default: tunnels)")
    add("--stream", help="the orchestrator's stream name (default: TUNNELS_EVENTS; tasks are on <stream>_TASKS)")
    add("--js-domain", metavar="DOMAIN", help="the hub's JetStream domain, when --nats is a leaf node (see nats/leafnode.example.conf)")
    add("--heartbeat-s", type=float, help="seconds between presence updates (default: 5)")
    add("--drain-timeout-s", type=float, help="on SIGTERM, how long the running task may take to finish (default: 60)")
    add("--progress-interval-s", type=float, help="at most one progress report per this many seconds (default: 1)")
    add("--connect-timeout-s", type=float, help="how long one connection attempt may take (default: 10)")
    add("--state-dir", metavar="DIR", help="sandboxed session homes and the agent's lock (default: ~/.local/state/tunnels-agent/<ws>)")
    add("--env-file", metavar="FILE", help="KEY=VALUE lines added to the Claude Code CLI's environment (mode 0600)")
    add("--cli-path", metavar="FILE", help="the Claude Code CLI to run (default: the one bundled with claude-agent-sdk)")
    add("--debug", action="store_true", help="verbose logs")
    for option in _REFUSED:
        add(option, action=_Refused, help=argparse.SUPPRESS)
    return parser


def parse(argv: Sequence[str], environ: dict[str, str] | None = None) -> tuple[AgentSettings, argparse.Namespace]:
    """Settings from `argv` over `environ` (default: this process's) over the config file."""
    args = build_parser().parse_args(list(argv))
    cli = {k: v for k, v in vars(args).items() if k in AgentSettings.__struct_fields__}
    return load_settings(cli, os.environ if environ is None else environ, args.config), args


async def _serve(agent: WorkspaceAgent) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, agent.drain)
    async with agent:
        await agent.serve()


PortsFactory = Callable[[AgentSettings, AgentSecrets], AgentPorts]


def main(argv: Sequence[str] | None = None, *, ports: PortsFactory) -> int:
    """Run `tunnels-agent` with the ports `ports` builds; the exit code: 0 after a clean drain,
    1 when the connection was closed for good (a supervisor restarts it), 2 on a settings error.
    (`tunnels.agent_main` is the console script: it passes the real ports.)"""
    try:
        settings, args = parse(sys.argv[1:] if argv is None else argv)
        secrets = read_secrets(settings, os.environ)
    except SettingsError as err:
        print(f"tunnels-agent: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_serve(WorkspaceAgent(settings, secrets, ports(settings, secrets))))
    except SettingsError as err:
        print(f"tunnels-agent: {err}", file=sys.stderr)
        return 2
    except ConnectionClosed as err:
        print(f"tunnels-agent: {err}", file=sys.stderr)
        return 1
    return 0
