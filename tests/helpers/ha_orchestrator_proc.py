"""An orchestrator on a shared NATS cluster, to be SIGKILLed or SIGSTOPped while active.

Usage: python -m tests.helpers.ha_orchestrator_proc ROOT SCENARIO
Once it holds the lease: Bob's request waits for approval; Alice's runs a task that never ends.
Prints `ACTIVE <term>` then `READY`, then waits; prints `LOST` and exits 3 if it loses its lease.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, load_scenario
from tests.helpers.orchestrator_proc import start_two_requests


async def main(root: Path, scenario: Path) -> int:
    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(load_scenario(scenario)) as model, Orchestrator(loaded, agent_env=model.env()) as orchestrator:
        assert orchestrator.lease is not None
        print(f"ACTIVE {orchestrator.lease.term}", flush=True)
        await start_two_requests(orchestrator)
        await orchestrator.lease_lost()
        print("LOST", flush=True)
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]))))
