"""Following the stream until the server goes away, for a reader such as `tunnels events tail`.

nats-py reconnects forever, and logs each failed attempt; a reader would wait, and warn, for
ever after the orchestrator it joined has stopped. Here the server counts as gone when the
connection has been down for `nats.connect_timeout_s`, or at once when it was the embedded server
of another process and that process no longer holds the store (it stopped: nothing restarts the
server). A server that comes back within the grace (one supervised on the same port, a cluster
node that restarted) is followed on. The connection's warnings are muted while that is decided.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.log import Stored
from claude_tunnels.tunnels.backbone import Backbone
from claude_tunnels.tunnels.pidlock import is_held

_CHECK_EVERY_S = 0.2
"""How often the connection's state is looked at (nats-py has no callback to add after connecting)."""
_CONNECTION_LOGGER = "claude_tunnels.tunnels.bus.connection"


async def follow_until_gone(
    events: AsyncIterator[Stored], show: Callable[[Stored], None], backbone: Backbone, loaded: LoadedSettings,
    *, debug: bool = False,
) -> str | None:
    """Call `show` for each event until `events` ends (None) or the server goes away (why, in words)."""

    async def consume() -> None:
        async for stored in events:
            show(stored)

    if not debug:  # one line says the server went away, not one warning per reconnect attempt
        logging.getLogger(_CONNECTION_LOGGER).setLevel(logging.ERROR)
    following = asyncio.ensure_future(consume())
    watching = asyncio.ensure_future(_server_gone(backbone, loaded))
    try:
        done, _ = await asyncio.wait({following, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (following, watching):
            task.cancel()
        await asyncio.wait({following, watching})
    if following in done:
        following.result()  # raises what ended the reading (a broken pipe, a bus error)
        return None
    return watching.result()


async def _server_gone(backbone: Backbone, loaded: LoadedSettings) -> str:
    loop = asyncio.get_running_loop()
    grace_s = loaded.settings.nats.connect_timeout_s
    # Joined the embedded server of another process (the orchestrator): it dies with its owner.
    owner_lock = loaded.state_dir / "nats" / "owner.lock" if backbone.server is None and loaded.settings.nats.url is None else None
    down_since: float | None = None
    while True:
        await asyncio.sleep(_CHECK_EVERY_S)  # a periodic look at the connection, not a synchronisation
        if backbone.nc.is_connected:
            down_since = None
            continue
        now = loop.time()
        down_since = now if down_since is None else down_since
        if owner_lock is not None and not is_held(owner_lock):
            return f"the orchestrator of {loaded.root} stopped, and its NATS server at {backbone.url} with it"
        if now - down_since >= grace_s:
            return f"the NATS server at {backbone.url} went away (no answer for {grace_s:g} s)"
