"""Kill -9 after appends, before the projections caught up: a restart loses and doubles nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from claude_tunnels.projections import ProjectionRunner, SessionsView, rebuild
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, connect
from tests.helpers.crash_writer import views

ROOT = Path(__file__).resolve().parents[2]


async def test_projections_catch_up_after_the_writer_is_killed(tmp_path: Path) -> None:
    state, tasks = tmp_path / ".tunnels", tmp_path / ".tasks"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.crash_writer", str(state), str(tasks)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "READY"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert len(list(tasks.rglob("*.md"))) == 10  # only the first five were projected (each under its two projects)

    async with EmbeddedNatsServer(state) as server:  # the killed owner's server is gone or reaped
        nc = await connect(server.connect_options())
        try:
            store = EventStore(nc)
            await store.ensure()
            sessions, requests, log = views(state, tasks)
            async with ProjectionRunner(store, [sessions, requests, log]) as runner:
                assert runner.position == 80 == await store.last_seq()
            refolded = SessionsView()
            await rebuild(store, [refolded])  # the caught-up sessions are the whole stream folded once
        finally:
            await nc.close()
    assert len(requests.requests) == 10
    assert all(r.status == "completed" for r in requests.requests.values())
    # A doubled event would double the usage: each request has planner 0.01 + one task 0.02.
    assert {round(r.usage.cost_usd, 6) for r in requests.requests.values()} == {0.03}
    assert sessions.sessions == refolded.sessions
    assert len(list(tasks.rglob("*.md"))) == 20
