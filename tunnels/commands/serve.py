"""`tunnels serve`: the orchestrator with every enabled chat channel, in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from claude_tunnels.channels.registry import build_channels
from claude_tunnels.config.loader import LoadedSettings
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
    async with Orchestrator(loaded, channels=lambda orchestrator: build_channels(loaded, orchestrator)) as orchestrator:
        names = ", ".join(channel.name for channel in orchestrator.channels) or "no chat channel (enable one in orchestrator.yaml)"
        where = orchestrator.backbone.url if orchestrator.backbone else "?"
        print(f"tunnels: serving {loaded.root} on {names}; events on {where}", file=sys.stderr, flush=True)
        await stop.wait()
    return 0


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
