"""Standing by, then being the active orchestrator of a shared event log (`nats.url` set).

Any number of orchestrators may start against one NATS cluster and root. Each first checks that
it can see the project tree the active one serves (the same tree mounted: shared storage; or
none on disk at all: every workspace served by `tunnels-agent`), then waits for the lease
(`bus/lease.py`). Only once it holds the lease does it start anything else (projections rebuilt
from the stream, the crash reconciliation, the actors' consumer, the chat channels), so a standby
never consumes or answers; a lost lease fences its appends and ends the process.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.tree import TreeError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.bus.lease import Holder, Lease
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.tree_source import DiskTree

log = logging.getLogger(__name__)


class StandbyBlind(UserError):
    """This standby cannot see projects the active orchestrator serves from its disk."""


def local_projects(loaded: LoadedSettings) -> tuple[str, ...]:
    """The projects found on this host's disk under the root (remote agents' ones not counted)."""
    try:
        return tuple(sorted(project.name for project in DiskTree(loaded).fresh().projects))
    except TreeError:
        return ()


async def become_active(loaded: LoadedSettings, store: EventStore, background: Background) -> Lease:
    """Wait until this process holds the lease (fencing `store` with its term), keep renewing it
    in `background`, and return it; refuse at once if this host cannot see the active one's tree."""
    projects = await asyncio.to_thread(local_projects, loaded)
    lease = Lease(store, ttl_s=loaded.settings.nats.lease_ttl_s, projects=projects)

    def standing_by(active: Holder) -> None:
        missing = sorted(set(active.projects) - set(projects))
        if missing:
            raise StandbyBlind(
                f"this standby cannot see the project tree the active orchestrator ({active.holder}) serves: "
                f"{', '.join(missing)} missing under {loaded.root}; mount the same tree here (shared storage), "
                "or serve those workspaces with tunnels-agent so no orchestrator needs them on disk"
            )
        log.warning("standing by: %s is the active orchestrator (term %d); taking over if its lease of %g s lapses",
                    active.holder, active.term, lease.ttl_s)

    term = await lease.acquire(standing_by)
    log.warning("active orchestrator of %s (term %d)", store.layout.stream, term)
    background.start(lease.renew_forever(), name="lease renewal")
    return lease


def own_checkpoints(loaded: LoadedSettings, holder: str) -> Path:
    """A fresh, empty checkpoint folder of this holder under the state folder (emptied first:
    the projections are rebuilt from the stream)."""
    folder = loaded.state_dir / "projections" / "holders" / re.sub(r"[^A-Za-z0-9_.-]", "_", holder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
