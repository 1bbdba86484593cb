"""`tunnels status`: which orchestrator of this root's event log is active, and its term."""

from __future__ import annotations

import argparse
import json

from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.bus.lease import Lease, LeaseState
from claude_tunnels.tunnels.errors import UserError


def describe(state: LeaseState, stream: str) -> str:
    """One paragraph on who holds the lease of `stream`."""
    holder = state.holder
    if holder is None:
        return f"no orchestrator has held the lease of {stream} yet"
    if not holder.holder:
        return f"no orchestrator is active on {stream}: the last one (term {holder.term}) stopped cleanly"
    return (
        f"active orchestrator of {stream}: {holder.holder} (term {holder.term}, lease of {holder.ttl_s:g} s, "
        f"{len(holder.projects)} project(s) on its disk); standbys are not listed (each one logs that it stands by)"
    )


async def status(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print who is active (exit 0), or say that an embedded server has no standby."""
    if loaded.settings.nats.url is None:
        print("embedded NATS server: one orchestrator per root, no lease and no standby (set nats.url to a cluster for that)")
        return 0
    try:
        async with open_backbone(loaded, role="reader", name="tunnels-status") as backbone:
            state = await Lease(backbone.store, ttl_s=loaded.settings.nats.lease_ttl_s, holder="status").read()
    except BusError as err:
        raise UserError(str(err)) from err
    if getattr(args, "json", False):
        holder = state.holder
        print(json.dumps({"stream": loaded.settings.nats.stream, "revision": state.revision,
                          "active": holder.holder if holder else None, "term": holder.term if holder else 0,
                          "host": holder.host if holder else None, "pid": holder.pid if holder else None}))
    else:
        print(describe(state, loaded.settings.nats.stream))
    return 0
