"""`tunnels serve`: the orchestrator with every enabled chat channel, in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
from contextlib import AsyncExitStack
from typing import Any

from claude_tunnels.channels.registry import build_channels, enabled_channels
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.commands.run import scripted_model_env
from claude_tunnels.tunnels.dashboard.auth import Auth
from claude_tunnels.tunnels.dashboard.server import Dashboard
from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.serving.patient import FIRST_PAUSE_S, Patient
from claude_tunnels.tunnels.serving.preflight import CHECKS, check_channels

log = logging.getLogger("claude_tunnels.tunnels.serve")


async def serve(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT (exit code 0); then stop the channels and the orchestrator cleanly.

    Every enabled channel's credentials are checked first; one the platform refuses stops the
    start with one line (exit code 2, like any configuration error). A platform that cannot be
    reached is tried again in the background while the others serve (`tunnels.serving.patient`).
    A signal during the start stops it too.
    """
    if args.systemd_unit:
        print(systemd_unit(loaded), end="")
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.Event()
    work = asyncio.ensure_future(_serve(loaded, stop, serving, args.scripted_model))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done() and not serving.is_set():
            work.cancel()  # still starting: a signal stops the start (what started is stopped in order)
        try:
            await work
        except asyncio.CancelledError:
            if not stop.is_set():
                raise
    finally:
        stopper.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


async def _serve(loaded: LoadedSettings, stop: asyncio.Event, serving: asyncio.Event, scripted_model: str | None = None) -> None:
    async with AsyncExitStack() as stack:  # a scripted model (offline rehearsal) outlives the orchestrator
        agent_env = await scripted_model_env(stack, scripted_model) if scripted_model else {}
        await _serve_with(loaded, stop, serving, agent_env)


async def _serve_with(loaded: LoadedSettings, stop: asyncio.Event, serving: asyncio.Event, agent_env: dict[str, str]) -> None:
    if loaded.settings.dashboard.enabled:
        Auth(loaded.settings.dashboard)  # an open, non-loopback bind is refused before anything starts
    names = enabled_channels(loaded)
    checks = {check.name: check for check in await check_channels(loaded, names)}
    for check in checks.values():
        if not check.reachable:
            log.warning("%s: not reachable (%s); serving without it and trying again in %.0f s", check.name, check.detail, FIRST_PAUSE_S)

    def channels(orchestrator: Orchestrator) -> list[Any]:
        built = build_channels(loaded, orchestrator)
        return [
            channel if checks[channel.name].reachable
            else Patient(channel, functools.partial(CHECKS[channel.name], loaded, os.environ))
            for channel in built
        ]

    async with Orchestrator(loaded, channels=channels, agent_env=agent_env) as orchestrator:
        serving.set()  # from here a signal ends the wait below, not the start
        up = [c.name for c in orchestrator.channels if checks[c.name].reachable]
        waiting = [c.name for c in orchestrator.channels if not checks[c.name].reachable]
        on = ", ".join(up) or "no chat channel" + ("" if waiting else " (enable one in orchestrator.yaml)")
        later = f" ({', '.join(waiting)} not reachable yet: trying again)" if waiting else ""
        where = orchestrator.backbone.url if orchestrator.backbone else "?"
        async with AsyncExitStack() as web:
            if loaded.settings.dashboard.enabled:
                board = await web.enter_async_context(Dashboard(
                    loaded.settings.dashboard, orchestrator.store, orchestrator, orchestrator.clock, presence=orchestrator.remote.live,
                ))
                on += f"; dashboard on {board.url}"
            print(f"tunnels: serving {loaded.root} on {on}{later}; events on {where}", file=sys.stderr, flush=True)
            stopped, lost = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(orchestrator.lease_lost())
            try:
                await asyncio.wait({stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                lost.cancel()
        if not stop.is_set() and orchestrator.lease is not None:
            raise UserError(
                f"this orchestrator lost its lease (term {orchestrator.lease.term}) to another one, which goes on; "
                "it stops here (start it again to stand by)"
            )


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
# Exit code 2: the settings or a chat token need fixing (the log's last line says which), so a
# restart would fail the same way; 1 is anything else, worth a restart; 0 a clean stop.
RestartPreventExitStatus=2
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
