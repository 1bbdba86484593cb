"""An orchestrator process to be SIGKILLed mid-phase (for crash-recovery tests).

Usage: python -m tests.helpers.orchestrator_proc ROOT SCENARIO
Bob's request waits for approval; Alice's runs a task that never ends. Prints READY then waits.
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import WorkspaceTaskStarted
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, load_scenario


async def start_two_requests(orchestrator: Orchestrator) -> None:
    """Bob's request waiting for approval and Alice's task running (one that never ends); prints READY."""
    alice = TerminalChannel(orchestrator, "alice", out=io.StringIO())
    bob = TerminalChannel(orchestrator, "bob", out=io.StringIO())
    asked = bob.watch(lambda e: isinstance(e, ConfirmationRequested))
    await bob.say("in api-service: bob's change")
    await asyncio.wait_for(asked, 60)
    asked = alice.watch(lambda e: isinstance(e, ConfirmationRequested))
    await alice.say("in web-app: alice's slow change")
    await asyncio.wait_for(asked, 60)
    started = alice.watch(lambda e: isinstance(e, WorkspaceTaskStarted))
    await alice.say("yes")
    await asyncio.wait_for(started, 60)
    print("READY", flush=True)


async def main(root: Path, scenario: Path) -> None:
    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(load_scenario(scenario)) as model, Orchestrator(loaded, agent_env=model.env()) as orchestrator:
        await start_two_requests(orchestrator)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
