"""`tunnels agent list`: the remote workspace agents that announced themselves, and whether they are live."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.remote_agent.protocol import Presence
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.bus.workspaces import read_presences


def agent_state(presence: Presence, age_s: float | None, lost_after_s: float) -> str:
    """`live`, `draining`, or `silent` (no heartbeat for longer than `remote.lost_after_s`)."""
    if age_s is not None and age_s > lost_after_s:
        return "silent"
    return "draining" if presence.draining else "live"


async def list_agents(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print one line per agent (or JSON lines with --json); the age is by the NATS server's clock."""
    async with open_backbone(loaded, role="reader", name="tunnels-agent-list") as backbone:
        found = await read_presences(backbone.store.js)
    now = datetime.now(UTC)
    lost_after_s = loaded.settings.remote.lost_after_s
    rows = []
    for presence, stored_at in found:
        age = (now - stored_at).total_seconds() if stored_at is not None else None
        rows.append({
            "workspace": presence.workspace, "agent": presence.agent_id, "host": presence.host,
            "version": presence.version, "last_heartbeat_s": None if age is None else round(max(age, 0.0), 1),
            "state": agent_state(presence, age, lost_after_s),
        })
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print("no agent has announced itself (see `tunnels agent credentials` and `tunnels deploy`)", file=sys.stderr)
        return 0
    header = ("WORKSPACE", "AGENT", "HOST", "VERSION", "LAST HEARTBEAT", "STATE")
    table: list[tuple[str, ...]] = [header, *[
        (str(r["workspace"]), str(r["agent"]), str(r["host"]), str(r["version"]),
         "?" if r["last_heartbeat_s"] is None else f"{r['last_heartbeat_s']:g} s ago", str(r["state"]))
        for r in rows
    ]]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0
