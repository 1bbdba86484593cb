"""``python -m claude_tunnels.tunnels.scripted_model --scenario FILE [--port 0]``: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from claude_tunnels.tunnels.scripted_model.scenario import ScenarioError, load_scenario
from claude_tunnels.tunnels.scripted_model.server import KEEP_REQUESTS, ScriptedModelServer


async def _serve(scenario_path: str, host: str, port: int) -> None:
    scenario = load_scenario(scenario_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with ScriptedModelServer(scenario, host=host, port=port, keep_requests=KEEP_REQUESTS) as server:
        print(f"scripted-model listening on {server.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve the scenario, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m claude_tunnels.tunnels.scripted_model",
        description="Serve a scripted Anthropic Messages API for the Claude Code CLI.",
    )
    parser.add_argument("--scenario", required=True, help="scenario YAML file")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.scenario, args.host, args.port))
    except ScenarioError as err:
        print(f"scripted-model: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
