"""`tunnels config [explain KEY]`, `tunnels nats`, `tunnels slack manifest`: what a set-up needs to know."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from claude_tunnels.config import keys
from claude_tunnels.config.example import dump_default_settings
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.tunnels.cli_support import Command


async def config(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print the commented default settings, or explain a key (every key without one)."""
    if args.config_command != "explain":
        sys.stdout.write(dump_default_settings())
        return 0
    infos = [keys.explain(args.key)] if args.key else [keys.explain(key) for key in keys.all_keys()]
    if args.json:
        for info in infos:
            print(json.dumps(info.as_dict()))
    elif args.key:
        print(keys.text(infos[0]))
    else:
        width = max(len(info.key) for info in infos)
        for info in infos:
            print(f"{info.key:<{width}}  {info.type}")
    return 0


def nats_info(loaded: LoadedSettings) -> dict[str, Any]:
    """Where the event log is and how to log in to it; no secret, only where secrets are kept."""
    from claude_tunnels.tunnels.backbone import layout_of  # the NATS client's imports, only here
    from claude_tunnels.tunnels.bus.server import running_server_url

    nats = loaded.settings.nats
    layout = layout_of(loaded)
    subjects = Subjects(layout.prefix)
    info: dict[str, Any] = {
        "url": nats.seeds, "embedded": nats.url is None, "running": None, "credentials": _credentials(loaded),
        "stream": layout.stream, "prefix": layout.prefix,
        "subjects": {
            "events": subjects.events,
            "request": subjects.request("<request_id>"),
            "session": f"{layout.prefix}.evt.session.<session>.>",
            "one_type": f"{layout.prefix}.evt.req.*.<type>",
        },
    }
    if nats.url is None:
        info["url"] = running_server_url(loaded.state_dir)
        info["running"] = info["url"] is not None
    return info


def _credentials(loaded: LoadedSettings) -> dict[str, Any]:
    nats = loaded.settings.nats

    def path(value: str) -> str:
        return str((loaded.root / value).expanduser())

    if nats.url is None:
        from claude_tunnels.tunnels.bus.embedded_login import SEED_FILE

        return {"kind": "nkey_seed_file", "path": str(loaded.state_dir / "nats" / SEED_FILE)}
    if nats.nkey_seed_file:
        found: dict[str, Any] = {"kind": "nkey_seed_file", "path": path(nats.nkey_seed_file)}
    elif nats.creds_file:
        found = {"kind": "creds_file", "path": path(nats.creds_file)}
    elif nats.token:
        found = {"kind": "token", "where": "nats.token in orchestrator.yaml"}
    elif nats.user:
        found = {"kind": "user_password", "user": nats.user, "where": "nats.password in orchestrator.yaml"}
    else:
        found = {"kind": "none"}
    if nats.tls is not None:
        found["tls"] = {name: path(value) for name in ("ca_file", "cert_file", "key_file") if (value := getattr(nats.tls, name))}
    return found


async def nats(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print what an integration needs; exit 1 when the embedded server is not running now."""
    info = nats_info(loaded)
    if args.json:
        print(json.dumps(info))
    else:
        creds = info["credentials"]
        secret = creds.get("path") or creds.get("where") or "none"
        state = "" if info["running"] is None else (" (running)" if info["running"] else "")
        print(f"url: {info['url'] or 'none: the embedded server is not running'}{state}")
        print(f"credentials: {creds['kind']} {secret}" + (" (mode 0600; the orchestrator's own login)" if info["embedded"] else ""))
        print(f"stream: {info['stream']}")
        print(f"subjects: {info['subjects']['events']} (one request: {info['subjects']['request']})")
    if info["running"] is False:
        print(
            f"tunnels: no orchestrator runs on {loaded.root} now: the embedded server takes a free port at each "
            "start, so start `tunnels serve` first (or set nats.url to a server of your own)",
            file=sys.stderr,
        )
        return 1
    return 0


async def slack(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print the Slack app manifest (YAML, or JSON with --json)."""
    from claude_tunnels.channels.slack.manifest import manifest  # (the package imports slack-bolt)

    document = manifest(args.name)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        sys.stdout.write(
            "# The Slack app of claude-tunnels: api.slack.com/apps -> Create New App -> From a manifest,\n"
            "# paste this. Then install it (the bot token, xoxb-...) and make an app-level token with\n"
            "# connections:write (Basic Information -> App-Level Tokens; xapp-...).\n"
        )
        sys.stdout.write(yaml.safe_dump(document, sort_keys=False))
    return 0


COMMANDS: dict[str, Command] = {"config": config, "nats": nats, "slack": slack}
"""The command of each `tunnels` subcommand in this module."""
