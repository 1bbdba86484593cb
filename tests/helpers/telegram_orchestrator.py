"""An orchestrator with the Telegram channel in its own process, to be SIGKILLed (for crash tests).

Usage: python -m tests.helpers.telegram_orchestrator ROOT SCENARIO [--poll S] [--backoff S]

The bot token comes from ROOT's ARCHIVE/telegram/credentials, the Bot API URL from its
orchestrator.yaml. Prints `READY` once polling, then `RECEIVED <message ref>` and
`OPENED <request id>` as those events happen; a `stop` line (or the end of input) stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiogram.utils.backoff import BackoffConfig

from claude_tunnels.channels.telegram import TelegramChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import MessageReceived, RequestOpened
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, load_scenario


def _say(line: str) -> None:
    print(line, flush=True)


def _on_event(seq: int, event: AnyEvent) -> None:
    if isinstance(event, MessageReceived):
        _say(f"RECEIVED {event.message_ref}")
    elif isinstance(event, RequestOpened):
        _say(f"OPENED {event.request_id}")


async def main(args: argparse.Namespace) -> None:
    loaded = load_settings(args.root / "orchestrator.yaml")
    backoff = BackoffConfig(min_delay=args.backoff, max_delay=args.backoff * 2, factor=1.5, jitter=0.0)

    def channels(orchestrator: Orchestrator) -> list[TelegramChannel]:  # attached as `tunnels serve` does
        orchestrator.add_listener(_on_event)
        return [TelegramChannel.from_settings(loaded, orchestrator, polling_timeout=args.poll, backoff=backoff)]

    async with ScriptedModelServer(load_scenario(args.scenario)) as model, \
            Orchestrator(loaded, agent_env=model.env(), channels=channels):
        _say("READY")
        while (await asyncio.to_thread(sys.stdin.readline)).strip() not in ("stop", ""):
            pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--poll", type=int, default=1, help="getUpdates long-poll timeout, seconds")
    parser.add_argument("--backoff", type=float, default=0.05, help="first delay after a failed Bot API call")
    asyncio.run(main(parser.parse_args()))
