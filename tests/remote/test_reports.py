"""Reports reach the orchestrator in order, are sent again until answered, and a refusal is final."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.msg import Msg

from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.protocol import REPORTS, Finished, Started
from claude_tunnels.remote_agent.reports import ReportSender
from claude_tunnels.remote_agent.settings import AgentSecrets, AgentSettings
from claude_tunnels.tunnels.agent_link import AgentLink
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from tests.helpers.remote import AgentIdentity, orchestrator_connection
from tests.remote.conftest import API


async def test_a_report_waits_for_the_orchestrator_and_a_refusal_is_not_retried(
    auth_server: EmbeddedNatsServer, api_identity: AgentIdentity, tmp_path: Path,
) -> None:
    settings = AgentSettings(nats=auth_server.url, workspace=API, path=str(tmp_path), state_dir=str(tmp_path / "state"))
    link = await AgentLink.open(settings, AgentSecrets(nkey_seed=api_identity.seed))
    orchestrator, _ = await orchestrator_connection(auth_server.url)
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    try:
        async with ReportSender(link, progress_interval_s=0.1) as reports:
            reports.send(Started(task_id="t1", agent_id="a"))
            reports.send(Finished(task_id="t1", outcome="failed", error="boom"))
            reports.send(Finished(task_id="t-unknown", outcome="failed", error="x"))
            # Nobody answers yet (the orchestrator is away): nothing is lost, nothing is dropped.
            assert not await reports.flush(0.5)
            assert reports.pending == 3

            async def answer(msg: Msg) -> None:
                report = REPORTS.decode(msg.data)
                received.put_nowait((report.task_id, msg.data))
                await msg.respond(b"error: unknown task" if report.task_id == "t-unknown" else b"ok")

            await orchestrator.subscribe(Subjects().workspace_out(API), cb=answer)
            await orchestrator.flush()
            assert await reports.flush(30)
            got = [received.get_nowait()[0] for _ in range(received.qsize())]
            assert got == ["t1", "t1", "t-unknown"]  # in order, each once, the refused one not again
            assert [(r.task_id, text) for r, text in reports.refused] == [("t-unknown", "error: unknown task")]
    finally:
        await orchestrator.close()
        await link.close()


def test_progress_is_throttled_and_coalesced() -> None:
    # No connection needed: nothing is sent before the sender's worker runs.
    reports = ReportSender(link=None, progress_interval_s=60)  # type: ignore[arg-type]
    reports.progress("t1", "tool", "Write a.py")
    reports.progress("t1", "tool", "Write b.py")  # within the interval: dropped
    reports.progress("t2", "text", "thinking")
    assert [(r.task_id, r.detail) for r in reports._queue] == [("t1", "Write a.py"), ("t2", "thinking")]  # type: ignore[attr-defined]
