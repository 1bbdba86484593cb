"""SIGKILL the orchestrator while a phase runs; the restarted one reconciles from the stream. And a
pending approval's expiry is armed again by the restarted orchestrator (on a manual clock)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.conversation import ConfirmationExpired, ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted, RequestFailed
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.clocks import ManualClock
from tests.e2e.scenarios import hangs, plan, scenario, succeeds
from tests.e2e.world import BASE_LIMITS

ROOT = Path(__file__).resolve().parents[2]


async def test_a_killed_orchestrator_is_reconciled_and_pending_approvals_survive(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}, "limits": BASE_LIMITS}))
    script = scenario(
        plan("alice", ("web-app/backend", "slow", []), ("web-app/frontend", "ui", ["web-app/backend"]), match="alice's slow change"),
        plan("bob", ("api-service", "bob", []), match="bob's change"),
        hangs("web-app/backend"), succeeds("api-service", "bob's change is in"),
    )
    (tmp_path / "scenario.yaml").write_text(script)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.orchestrator_proc", str(root), str(tmp_path / "scenario.yaml")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)
        assert line.strip() == "READY"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(parse_scenario(script)) as model, Orchestrator(loaded, agent_env=model.env()) as orchestrator:
        assert orchestrator.ctx is not None and orchestrator.runner is not None
        await orchestrator.runner.wait(await orchestrator.store.last_seq())
        requests = orchestrator.ctx.requests.requests
        [alice] = [r for r in requests.values() if r.requester == "terminal:alice"]
        [bob] = [r for r in requests.values() if r.requester == "terminal:bob"]
        assert alice.status == "failed" and "restarted while this request ran" in alice.reason
        assert {w: t.status for w, t in alice.tasks.items()} == {"web-app/backend": "interrupted", "web-app/frontend": "cancelled"}
        assert not [t for r in requests.values() for t in r.tasks.values() if t.status in ("running", "dispatched")]
        assert bob.status == "awaiting_approval"
        assert orchestrator.ctx.sessions.get("terminal:bob").status == "pending_plan_approval"
        assert orchestrator.ctx.sessions.get("terminal:alice").status == "awaiting_followup"

        bob_terminal = TerminalChannel(orchestrator, "bob", out=open(os.devnull, "w"))
        done = bob_terminal.watch(lambda e: isinstance(e, RequestCompleted))
        await bob_terminal.say("yes")
        final = await asyncio.wait_for(done, 120)
        assert "bob's change is in" in final.summary  # type: ignore[attr-defined]


async def test_a_pending_approval_expires_on_time_after_a_restart(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    limits = {**BASE_LIMITS, "approval_ttl_s": 900}
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}, "limits": limits}))
    loaded = load_settings(root / "orchestrator.yaml")
    clock = ManualClock(datetime.now(UTC))

    def on_clock() -> Orchestrator:
        return Orchestrator(loaded, agent_env=model.env(), clock=clock, timers=clock, monotonic=clock.monotonic)

    async with ScriptedModelServer(parse_scenario(scenario(plan("one", ("api-service", "x", []))))) as model:
        async with on_clock() as first:
            terminal = TerminalChannel(first, "alice", out=io.StringIO())
            asked_future = terminal.watch(lambda e: isinstance(e, ConfirmationRequested))
            await terminal.say("in api-service: one")
            asked = await asyncio.wait_for(asked_future, 120)
        clock.advance(600)  # while no orchestrator runs; the first one's timer now finds its gate stopped

        async with on_clock() as second:
            assert second.requests.get(asked.request_id).status == "awaiting_approval"  # type: ignore[attr-defined, union-attr]
            terminal = TerminalChannel(second, "alice", out=io.StringIO())
            expired = terminal.watch(lambda e: isinstance(e, ConfirmationExpired))
            failed = terminal.watch(lambda e: isinstance(e, RequestFailed))
            clock.advance(300)  # the deadline the first orchestrator set: the second one armed it again
            final = await asyncio.wait_for(failed, 30)
            assert final.request_id == asked.request_id and final.stage == "approval"  # type: ignore[attr-defined]
            assert (await expired).at == asked.expires_at == asked.at + timedelta(seconds=900)  # type: ignore[attr-defined]
