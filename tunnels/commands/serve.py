"""`tunnels serve`: the orchestrator with every enabled chat channel, in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from contextlib import AsyncExitStack
from typing import Any

from claude_tunnels.channels.registry import build_channels
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.commands.run import scripted_model_env
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator


async def serve(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT; then stop the channels and the orchestrator cleanly."""
    if args.systemd_unit:
        print(systemd_unit(loaded), end="")
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:  # a scripted model (offline rehearsal) outlives the orchestrator
        env = await scripted_model_env(stack, args.scripted_model) if args.scripted_model else {}
        await _serve(loaded, env, stop)
    return 0


async def _serve(loaded: LoadedSettings, agent_env: dict[str, str], stop: asyncio.Event) -> None:
    def channels(orchestrator: Orchestrator) -> list[Any]:
        return build_channels(loaded, orchestrator)

    async with Orchestrator(loaded, channels=channels, agent_env=agent_env) as orchestrator:
        names = ", ".join(channel.name for channel in orchestrator.channels) or "no chat channel (enable one in orchestrator.yaml)"
        where = orchestrator.backbone.url if orchestrator.backbone else "?"
        print(f"tunnels: serving {loaded.root} on {names}; events on {where}", file=sys.stderr, flush=True)
        await stop.wait()


SYSTEMD_UNIT = """\
# claude-tunnels orchestrator as a systemd service. Install with:
#   tunnels --root {root} serve --systemd-unit | sudo tee /etc/systemd/system/tunnels.service
#   sudo systemctl daemon-reload && sudo systemctl enable --now tunnels
# Chat tokens live in ARCHIVE/<channel>/credentials (mode 600) under the root, or in the
# EnvironmentFile (mode 600): never on the command line.
[Unit]
Description=claude-tunnels orchestrator
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={root}
EnvironmentFile=-/etc/tunnels/env
ExecStart={tunnels} --root {root} serve
Restart=on-failure
RestartSec=5
# SIGTERM stops the channels and the embedded NATS server cleanly; events not yet acknowledged
# are delivered again on the next start.
KillSignal=SIGTERM
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
"""


def systemd_unit(loaded: LoadedSettings) -> str:
    """A unit file for this root, this installation and this user."""
    import getpass
    from pathlib import Path

    tunnels = Path(sys.executable).with_name("tunnels")
    return SYSTEMD_UNIT.format(root=loaded.root, user=getpass.getuser(), tunnels=tunnels)
