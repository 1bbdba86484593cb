"""An orchestrator with its Slack channel in a process of its own, to be SIGKILLed (crash tests).

Usage: python -m tests.helpers.slack_orchestrator ROOT SCENARIO [--hold]
Reads ROOT/orchestrator.yaml (Slack's `api_url` points at the test's FakeSlack) and the tokens from
ROOT/ARCHIVE/slack/credentials. Prints READY once connected, then runs until SIGTERM (clean stop).
`--hold` detaches the dispatcher first: messages are recorded and acknowledged to Slack, but
nothing reacts to them, which holds the process in the window between the two.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from claude_tunnels.channels.slack import SlackChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, load_scenario


async def main(root: Path, scenario: Path, hold: bool) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(load_scenario(scenario)) as model, Orchestrator(loaded, agent_env=model.env()) as orchestrator:
        if hold:
            assert orchestrator.dispatcher is not None
            await orchestrator.dispatcher.stop()
        async with SlackChannel.from_settings(loaded, orchestrator, ping_interval=1):
            print("READY", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), "--hold" in sys.argv[3:]))
