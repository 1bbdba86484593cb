"""A process that appends events and then waits to be killed (for crash-recovery tests).

Usage: python -m tests.helpers.crash_writer STATE_DIR TASKS_DIR
It appends story 1, lets the projections catch up and checkpoint, appends story 2 with no
projection running, prints READY and waits for SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from claude_tunnels.projections import ProjectionRunner, RequestsView, SessionsView, TaskLog
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, connect
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"


def story(ev: Events, rid: str) -> list:
    return [
        ev.message(KEY, rid), ev.opened(KEY, rid, f"request {rid}"), ev.routed(KEY, rid, ["shared"]),
        ev.proposed(KEY, rid, two_phase_plan()), ev.approved(KEY, rid), ev.dispatched(KEY, rid, "shared/core"),
        ev.succeeded(KEY, rid, "shared/core"), ev.completed(KEY, rid),
    ]


def views(state: Path, tasks: Path) -> list:
    checkpoints = state / "projections"
    return [SessionsView(checkpoints / "sessions.sqlite"), RequestsView(checkpoints / "requests.sqlite"), TaskLog(tasks, checkpoints / "task_log.json")]


async def main(state: Path, tasks: Path) -> None:
    ev = Events()
    server = EmbeddedNatsServer(state)
    await server.start()
    nc = await connect(server.connect_options())
    store = EventStore(nc)
    await store.ensure()
    for n in range(5):
        for event in story(ev, f"01REQA{n:020d}"):
            await store.append(event)
    async with ProjectionRunner(store, views(state, tasks)):
        pass
    for n in range(5):
        for event in story(ev, f"01REQB{n:020d}"):
            await store.append(event)
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
