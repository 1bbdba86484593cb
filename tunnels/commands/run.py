"""`tunnels chat` and `tunnels demo`."""

from __future__ import annotations

import argparse
from contextlib import AsyncExitStack
from pathlib import Path

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScenarioError, ScriptedModelServer
from claude_tunnels.tunnels.scripted_model.bundled import find_scenario
from claude_tunnels.tunnels.scripted_model.server import KEEP_REQUESTS
from claude_tunnels.tunnels.terminal.converse import converse, terminal_output


async def chat(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """An interactive terminal conversation with the orchestrator."""
    async with AsyncExitStack() as stack:
        env: dict[str, str] = {}
        if args.scripted_model:
            env = await scripted_model_env(stack, args.scripted_model)
        user = args.user or loaded.settings.channels.terminal.user
        terminals: list[TerminalChannel] = []

        def attach(orchestrator: Orchestrator) -> list[TerminalChannel]:
            # Attached before anything reacts: the terminal sees what the restart settles, and
            # first prints what was due while no terminal was attached (it confirms what it prints).
            terminals.append(TerminalChannel(orchestrator, user, confirms=True, out=terminal_output()))
            return terminals

        await stack.enter_async_context(Orchestrator(loaded, agent_env=env, channels=attach))
        await converse(terminals[0], loaded.state_dir)
    return 0


async def scripted_model_env(stack: AsyncExitStack, scenario: str) -> dict[str, str]:
    """Start the scripted model server playing `scenario` (a file, or a bundled name) for as long
    as `stack` lasts; the environment that points agents' Claude Code CLIs at it."""
    try:
        found = find_scenario(scenario)
    except ScenarioError as err:
        raise UserError(str(err)) from None
    model = await stack.enter_async_context(ScriptedModelServer(found, keep_requests=KEEP_REQUESTS))
    return model.env()


async def demo(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """The offline end-to-end demo."""
    from claude_tunnels.tunnels.demo.run import run_demo

    return await run_demo(Path(args.dir).absolute())
