"""Two orchestrators on one NATS cluster (separate processes, one tree: shared storage). The
active one is SIGKILLed (or SIGSTOPped) mid-request; the standby takes the lease over, rebuilds
from the stream and reconciles: the request ends once, no task runs twice, the chat hears once,
and a paused ex-leader that wakes up cannot append."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskStarted
from claude_tunnels.tunnels.bus import EventStore, Layout
from claude_tunnels.tunnels.bus.lease import Lease
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import hangs, plan, scenario, succeeds
from tests.e2e.world import BASE_LIMITS
from tests.helpers.nats_cluster import NatsCluster

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = scenario(
    plan("alice", ("web-app/backend", "slow", []), ("web-app/frontend", "ui", ["web-app/backend"]), match="alice's slow change"),
    plan("bob", ("api-service", "bob", []), match="bob's change"),
    hangs("web-app/backend"), succeeds("api-service", "bob's change is in"),
)


async def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)).strip()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP])
async def test_the_standby_takes_over_from_a_dead_or_paused_active_one(tmp_path: Path, how: signal.Signals) -> None:
    root = lay_out(tmp_path / "tree")
    async with NatsCluster(tmp_path / "nats") as cluster:
        settings = {"claude": {"isolate_home": True}, "limits": BASE_LIMITS,
                    "nats": {"url": cluster.urls, "replicas": 3, "lease_ttl_s": 1}}
        (root / "orchestrator.yaml").write_text(json.dumps(settings))
        (tmp_path / "scenario.yaml").write_text(SCRIPT)
        active = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.ha_orchestrator_proc", str(root), str(tmp_path / "scenario.yaml")],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert await _line(active) == "ACTIVE 1"
            assert await _line(active) == "READY"
            loaded = load_settings(root / "orchestrator.yaml")
            terminals: dict[str, TerminalChannel] = {}

            def attach(orchestrator: Orchestrator) -> list[TerminalChannel]:
                for user in ("alice", "bob"):
                    terminals[user] = TerminalChannel(orchestrator, user, out=io.StringIO(), confirms=True)
                return list(terminals.values())

            async with ScriptedModelServer(parse_scenario(SCRIPT)) as model:
                standby = Orchestrator(loaded, agent_env=model.env(), channels=attach)
                starting = asyncio.ensure_future(standby.__aenter__())
                probe = Lease(await _store_of(cluster), ttl_s=1)  # what `tunnels status` reads
                assert (await probe.read()).holder.term == 1  # type: ignore[union-attr]
                os.kill(active.pid, how)
                await asyncio.wait_for(starting, 120)
                try:
                    assert standby.lease is not None and standby.lease.term == 2
                    assert (await probe.read()).holder.holder == standby.lease.name  # type: ignore[union-attr]
                    if how == signal.SIGKILL:  # `tunnels status` names the new active one and its term
                        shown = await asyncio.to_thread(
                            subprocess.run, [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "status"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                        )
                        assert shown.returncode == 0, shown.stderr
                        assert f"active orchestrator of TUNNELS_EVENTS: {standby.lease.name} (term 2" in shown.stdout
                    alice_terminal = terminals["alice"]
                    ended = [e for e in alice_terminal.events if isinstance(e, REQUEST_ENDED)]
                    final = ended[0] if ended else await asyncio.wait_for(alice_terminal.watch(lambda e: isinstance(e, REQUEST_ENDED)), 60)
                    assert isinstance(final, RequestCompleted) and (final.succeeded, final.failed, final.skipped) == (0, 1, 1)
                    done = terminals["bob"].watch(lambda e: isinstance(e, RequestCompleted))
                    await terminals["bob"].say("yes")
                    assert "bob's change is in" in (await asyncio.wait_for(done, 120)).summary  # type: ignore[attr-defined]

                    if how == signal.SIGSTOP:
                        # The paused ex-leader wakes up: it finds its lease gone and stops. What it
                        # would record (its hanging task's end, its request's) is refused.
                        before = await standby.store.last_seq()
                        os.kill(active.pid, signal.SIGCONT)
                        assert await _line(active) == "LOST"
                        assert await asyncio.to_thread(active.wait, 60) != 0  # its stop failed to record, loudly
                        later = [s.event for s in await standby.store.read(start_seq=before + 1)]
                        assert not [e for e in later if getattr(e, "request_id", None) == final.request_id]

                    stored = [s.event for s in await standby.store.read()]
                    for request_id in {e.request_id for e in stored if isinstance(e, RequestCompleted)}:
                        assert len([e for e in stored if isinstance(e, REQUEST_ENDED) and e.request_id == request_id]) == 1
                    started = [e.workspace for e in stored if isinstance(e, WorkspaceTaskStarted)]
                    assert sorted(started) == ["api-service", "web-app/backend"]  # none ran twice
                    for user, phrase in (("alice", "Finished with failures"), ("bob", "1 of 1 workspace tasks succeeded")):
                        assert terminals[user].out.getvalue().count(phrase) == 1  # type: ignore[attr-defined]
                finally:
                    await probe.store.nc.close()
                    await standby.__aexit__(None, None, None)
        finally:
            if active.poll() is None:
                os.kill(active.pid, signal.SIGKILL)
            active.wait()


async def _store_of(cluster: NatsCluster) -> EventStore:
    return EventStore(await cluster.client(), Layout(replicas=3))
