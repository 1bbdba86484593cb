"""The arguments of the set-up commands: `init`, `config [explain KEY]`, `nats`, `slack manifest`.

Only declarations (cheap to import when the parser is built); the commands live in
`tunnels.commands.init` and `tunnels.commands.setup_info`.
"""

from __future__ import annotations

import argparse

SCRIPTED_MODEL_HELP = (
    "answer with a scripted model (offline) instead of Claude: a scenario file, or the name of a "
    "bundled one (`example`, `demo`)"
)


def add_init_arguments(init: argparse.ArgumentParser) -> None:
    """`tunnels init`: every question has a flag or an environment variable, for scripts."""
    init.add_argument(
        "--yes", action="store_true",
        help="ask nothing: accept every default (never widens access) and read tokens from the environment",
    )
    init.add_argument("--force", action="store_true", help="replace an existing orchestrator.yaml")
    init.add_argument("--slack", action="store_true", help="connect Slack (tokens: SLACK_BOT_TOKEN, SLACK_APP_TOKEN or asked)")
    init.add_argument("--slack-users", metavar="IDS", help="Slack user ids allowed to use the bot, comma separated (U012ABCDEF)")
    init.add_argument("--telegram", action="store_true", help="connect Telegram (token: TELEGRAM_BOT_TOKEN or asked)")
    init.add_argument("--telegram-users", metavar="IDS", help="Telegram user ids allowed to use the bot, comma separated")
    init.add_argument("--approvers", metavar="IDS", help="who may approve anyone's request: channel:id, comma separated")
    init.add_argument(
        "--allow-everyone", action="store_true",
        help="let everyone who can reach a connected bot use it (only when no user ids are given)",
    )


def add_setup_parsers(commands: argparse._SubParsersAction) -> None:
    """`tunnels config`, `tunnels nats`, `tunnels slack manifest`."""
    config = commands.add_parser("config", help="print the commented default settings, or explain one key")
    config.set_defaults(_incomplete=False)  # bare `tunnels config` prints the settings
    keys = config.add_subparsers(dest="config_command", metavar="COMMAND")
    explain = keys.add_parser("explain", help="what a settings key means: its type, default and valid values")
    explain.add_argument("key", metavar="KEY", nargs="?", help="a dotted key such as limits.task_timeout_s (none: list every key)")
    explain.add_argument("--json", action="store_true", help="one JSON object per key")

    nats = commands.add_parser("nats", help="what an integration needs to read the events: server URL, credentials, stream, subjects")
    nats.add_argument("--json", action="store_true", help="one JSON object")

    slack = commands.add_parser("slack", help="Slack set-up helpers").add_subparsers(dest="slack_command", metavar="COMMAND")
    manifest = slack.add_parser("manifest", help="print the Slack app manifest this bot needs (paste it at api.slack.com/apps)")
    manifest.add_argument("--json", action="store_true", help="JSON instead of YAML")
    manifest.add_argument("--name", default="claude-tunnels", help="the app's and the bot user's name (default: claude-tunnels)")
