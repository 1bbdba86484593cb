"""SIGKILL the orchestrator while a phase runs; the restarted one takes the request up from the
stream (outside git: the interrupted task is reported, its dependant skipped) and shows a plan still
waiting for approval. And a pending approval's expiry is armed again by the restarted orchestrator
(on a manual clock)."""

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
from claude_tunnels.events.catalogue import REQUEST_ENDED
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
    terminals: dict[str, TerminalChannel] = {}

    def attach(orchestrator: Orchestrator) -> list[TerminalChannel]:
        # As `tunnels chat` attaches its terminal: before recovery, printing what was due.
        for user in ("alice", "bob"):
            terminals[user] = TerminalChannel(orchestrator, user, out=io.StringIO(), confirms=True)
        return list(terminals.values())

    async with ScriptedModelServer(parse_scenario(script)) as model, Orchestrator(loaded, agent_env=model.env(), channels=attach) as orchestrator:
        assert orchestrator.ctx is not None and orchestrator.runner is not None
        alice_terminal = terminals["alice"]
        ended = [e for e in alice_terminal.events if isinstance(e, REQUEST_ENDED)]
        final = ended[0] if ended else await asyncio.wait_for(alice_terminal.watch(lambda e: isinstance(e, REQUEST_ENDED)), 60)
        await orchestrator.runner.wait(await orchestrator.store.last_seq())
        requests = orchestrator.ctx.requests.requests
        [alice] = [r for r in requests.values() if r.requester == "terminal:alice"]
        [bob] = [r for r in requests.values() if r.requester == "terminal:bob"]
        # Outside git, the task that ran cannot be rolled back: reported, not run again; its dependant skipped.
        assert isinstance(final, RequestCompleted) and (final.succeeded, final.failed, final.skipped) == (0, 1, 1)
        assert {w: t.status for w, t in alice.tasks.items()} == {"web-app/backend": "interrupted", "web-app/frontend": "skipped"}
        assert "not run again: web-app/backend" in alice_terminal.out.getvalue()  # type: ignore[attr-defined]
        assert "Finished with failures" in alice_terminal.out.getvalue()  # type: ignore[attr-defined]
        assert not [t for r in requests.values() for t in r.tasks.values() if t.status in ("running", "dispatched")]
        assert bob.status == "awaiting_approval"
        assert orchestrator.ctx.sessions.get("terminal:bob").status == "pending_plan_approval"
        # Bob's new terminal shows the plan still waiting for him, and its question.
        shown = terminals["bob"].out.getvalue()  # type: ignore[attr-defined]
        assert f"Plan for request {bob.request_id}" in shown and "Reply yes to run it" in shown

        done = terminals["bob"].watch(lambda e: isinstance(e, RequestCompleted))
        await terminals["bob"].say("yes")
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
