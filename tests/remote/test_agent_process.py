"""The agent as its own OS process, with narrowed nkey credentials, against a stand-in orchestrator.

The stand-in (tests/helpers/remote.py) plays the orchestrator's side of the protocol; the agent
runs the real Claude Code CLI against the scripted model.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import psutil
import pytest

from claude_tunnels.remote_agent.protocol import Finished, Progressed, Started
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import scenario, succeeds
from tests.helpers.remote import (
    AgentIdentity,
    AgentProcess,
    StandInOrchestrator,
    TcpProxy,
    start_agent,
    task,
)
from tests.remote.conftest import API

pytestmark = pytest.mark.cli


def hangs_on(text: str) -> dict[str, Any]:
    """A script for the API workspace whose model never answers a task containing `text`."""
    return {"name": f"hang-{text}", "match": [f"Workspace: {API}\n", text], "turns": [{"hang": True}]}


def finished(task_id: str) -> Any:
    return lambda workspace, report: isinstance(report, Finished) and report.task_id == task_id


def started(task_id: str) -> Any:
    return lambda workspace, report: isinstance(report, Started) and report.task_id == task_id


def descendants(agent: AgentProcess) -> list[psutil.Process]:
    assert agent.process is not None
    found = []
    for proc in psutil.Process(agent.process.pid).children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


async def test_agent_announces_itself_runs_a_task_and_reports_it(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(succeeds(API, "wrote it", writes="src/hello.py"))))
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        first = await stand_in.wait_presence(lambda p: p.workspace == API)
        assert "The shop's HTTP API." in first.claude_md
        assert first.capacity == 1 and not first.draining and first.heartbeat_s == 0.5
        # rewritten every heartbeat
        await stand_in.wait_presence(lambda p: p.agent_id == first.agent_id and p.heartbeat_at > first.heartbeat_at)
        # the orchestrator creates the consumer when it sees the presence; the agent waits for it
        await stand_in.ensure_consumer(API)
        await stand_in.send(task(API, "t1"))
        report = await stand_in.wait_report(finished("t1"))
        assert isinstance(report, Finished)
        assert report.outcome == "succeeded", report.error
        assert report.result is not None and report.result.summary == "wrote it"
        assert report.result.changed_files == ["src/hello.py"]
        assert report.usage.num_turns >= 1
        reports = stand_in.reports_of("t1")
        assert isinstance(reports[0], Started) and reports[0].agent_id == first.agent_id
        assert any(isinstance(r, Progressed) and r.detail.startswith("Write") for r in reports)
        assert reports[-1] is report and sum(isinstance(r, Finished) for r in reports) == 1
        assert {workspace for workspace, _ in stand_in.reports} == {API}
        assert (workspace_dir / "src" / "hello.py").read_text() == "x\n"
        # the same prompt as a local task: the planner's workspace header, the request, the task
        request = scripted_model.requests_for(API)[0]
        assert f"Workspace: {API}\n" in request.task_text
        assert "please make the change" in request.task_text and "workspace agent of a project orchestrator" in request.task_text
        assert request.cwd == str(workspace_dir.resolve())
    finally:
        agent.signal(signal.SIGTERM)
        assert await agent.wait() == 0


async def test_cancel_stops_the_session_and_the_next_task_runs(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(hangs_on("slow one"), succeeds(API, "quick"))))
    await stand_in.ensure_consumer(API)
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        await stand_in.send(task(API, "t-slow", "the slow one"))
        await stand_in.send(task(API, "t-next", "the next one"))
        await stand_in.wait_report(started("t-slow"))
        await scripted_model.wait_for_requests(1, script="hang-slow one")
        sessions = descendants(agent)
        assert sessions, "the Claude Code CLI should be running"
        await stand_in.cancel(API, "t-slow")
        report = await stand_in.wait_report(finished("t-slow"), timeout=30)
        assert isinstance(report, Finished)
        assert report.outcome == "cancelled" and "cancelled by test" in report.error
        assert not [p for p in sessions if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]  # the CLI is gone
        next_report = await stand_in.wait_report(finished("t-next"))
        assert isinstance(next_report, Finished) and next_report.outcome == "succeeded", next_report
        # the cancelled task's Started came before the next task's: one task at a time
        order = [(type(r).__name__, r.task_id) for _, r in stand_in.reports if not isinstance(r, Progressed)]
        assert order == [("Started", "t-slow"), ("Finished", "t-slow"), ("Started", "t-next"), ("Finished", "t-next")]
    finally:
        agent.signal(signal.SIGTERM)
        assert await agent.wait() == 0


async def test_a_task_past_its_cost_budget_is_reported_failed_with_what_it_spent(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    two_writes = {"name": API, "match": [f"Workspace: {API}\n"], "turns": [
        {"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/a.txt", "content": "a"}}]},
        {"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/b.txt", "content": "b"}}]},
        {"structured_output": {"summary": "never reached"}},
    ]}
    scripted_model.load(parse_scenario(scenario(two_writes)))
    await stand_in.ensure_consumer(API)
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        await stand_in.send(task(API, "t-budget", max_budget_usd=0.01))
        report = await stand_in.wait_report(finished("t-budget"))
        assert isinstance(report, Finished) and report.outcome == "failed", report
        assert report.error.startswith("the task reached its cost budget of $0.01 (spent $0.")
        assert report.usage.cost_usd > 0.01 and report.usage.input_tokens > 0
        assert not (workspace_dir / "b.txt").exists()
    finally:
        agent.signal(signal.SIGTERM)
        assert await agent.wait() == 0


async def test_sigterm_lets_the_running_task_finish_then_exits(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(succeeds(API, "finished while draining", delay_s=1.0))))
    await stand_in.ensure_consumer(API)
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model, "--drain-timeout-s", "30")
    try:
        await stand_in.send(task(API, "t1"))
        await stand_in.wait_report(started("t1"))
        await scripted_model.wait_for_requests(1, script=API)
        agent.signal(signal.SIGTERM)
        draining = await stand_in.wait_presence(lambda p: p.draining)
        assert draining.workspace == API
        report = await stand_in.wait_report(finished("t1"))
        assert isinstance(report, Finished) and report.outcome == "succeeded", report
        assert await agent.wait() == 0
    finally:
        await agent.stop()


async def test_sigterm_interrupts_a_task_that_outlives_the_drain_timeout(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(hangs_on("forever"))))
    await stand_in.ensure_consumer(API)
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model, "--drain-timeout-s", "0.5")
    try:
        await stand_in.send(task(API, "t1", "run forever"))
        await stand_in.wait_report(started("t1"))
        await scripted_model.wait_for_requests(1, script="hang-forever")
        agent.signal(signal.SIGTERM)
        report = await stand_in.wait_report(finished("t1"))
        assert isinstance(report, Finished) and report.outcome == "interrupted"
        assert "did not finish within 0.5 s" in report.error
        assert await agent.wait() == 0
        assert any("drained; exiting" in line for line in agent.lines)
    finally:
        await agent.stop()


async def test_agent_reconnects_after_a_network_cut_and_takes_the_next_task(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(succeeds(API, "done"))))
    await stand_in.ensure_consumer(API)
    host, port = auth_server.url.removeprefix("nats://").split(":")
    async with TcpProxy(host, int(port)) as proxy:
        agent = await start_agent(f"nats://127.0.0.1:{proxy.port}", api_identity, workspace_dir, tmp_path, scripted_model)
        try:
            await stand_in.send(task(API, "before"))
            assert (await stand_in.wait_report(finished("before"))).outcome == "succeeded"  # type: ignore[union-attr]
            await proxy.cut()  # mid-idle: the agent is waiting for its next task
            await agent.wait_for_line("disconnected from")
            await proxy.restore()
            await agent.wait_for_line("reconnected to")
            # (Not sent during the cut: the server may not have seen the connection die yet and
            # would hand the task to it; with max_deliver=1 it would then never come again.)
            await stand_in.send(task(API, "after"))
            report = await stand_in.wait_report(finished("after"))
            assert isinstance(report, Finished) and report.outcome == "succeeded", report
            assert proxy.connections >= 2
        finally:
            agent.signal(signal.SIGTERM)
            assert await agent.wait() == 0


async def test_a_task_running_when_the_agent_died_is_reported_interrupted_by_the_next_agent(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    scripted_model.load(parse_scenario(scenario(hangs_on("forever"), succeeds(API, "done"))))
    await stand_in.ensure_consumer(API)
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        await stand_in.send(task(API, "t-died", "run forever"))
        await stand_in.wait_report(started("t-died"))
        await scripted_model.wait_for_requests(1, script="hang-forever")
    finally:
        await agent.stop()  # SIGKILL: agent and CLI, no report
    assert not any(isinstance(r, Finished) for r in stand_in.reports_of("t-died"))
    agent = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path, scripted_model)
    try:
        report = await stand_in.wait_report(finished("t-died"))
        assert isinstance(report, Finished) and report.outcome == "interrupted"
        assert "stopped while running it" in report.error
        await stand_in.send(task(API, "t-next"))
        assert (await stand_in.wait_report(finished("t-next"))).outcome == "succeeded"  # type: ignore[union-attr]
        assert len(scripted_model.requests_for("hang-forever")) == 1  # never run again
    finally:
        agent.signal(signal.SIGTERM)
        assert await agent.wait() == 0


async def test_two_agents_of_one_workspace_share_its_tasks_and_none_runs_twice(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    """Two hosts serving the same workspace (say, after a failover): the work queue hands each task
    to one of them, and each task is started and finished once."""
    scripted_model.load(parse_scenario(scenario(succeeds(API, "done", delay_s=0.3))))
    await stand_in.ensure_consumer(API)
    first = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path / "host-1", scripted_model)
    second = await start_agent(auth_server.url, api_identity, workspace_dir, tmp_path / "host-2", scripted_model)
    tasks = [f"t{n}" for n in range(6)]
    try:
        await stand_in.wait_presence(lambda p: p.workspace == API)
        for task_id in tasks:
            await stand_in.send(task(API, task_id))
        for task_id in tasks:
            report = await stand_in.wait_report(finished(task_id))
            assert isinstance(report, Finished) and report.outcome == "succeeded", report
    finally:
        for agent in (first, second):
            agent.signal(signal.SIGTERM)
        assert [await first.wait(), await second.wait()] == [0, 0]
    for task_id in tasks:
        kinds = [type(r).__name__ for r in stand_in.reports_of(task_id) if not isinstance(r, Progressed)]
        assert kinds == ["Started", "Finished"], (task_id, kinds)
    assert len(scripted_model.requests_for(API)) >= len(tasks)  # each task really ran a session
