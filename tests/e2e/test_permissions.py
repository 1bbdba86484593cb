"""Permissions through the whole orchestrator: refusals recorded and shown, questions relayed to the chat."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested, NoticeIssued
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    RequestCompleted,
    WorkspaceTaskFailed,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.tunnels.commands.events import request_timeline
from tests.clocks import ManualClock
from tests.e2e.scenarios import plan
from tests.e2e.world import world

WS = "web-app/frontend"
SECRET = "xoxb-9999-TOPSECRETSLACK"


def _agent(*calls: dict[str, Any], summary: str = "done") -> dict[str, Any]:
    turns: list[dict[str, Any]] = [{"tool_uses": [call]} for call in calls]
    turns.append({"structured_output": {"summary": summary, "test_result": "skip"}})
    return {"name": "frontend", "match": [f"Workspace: {WS}\n"], "turns": turns}


def bash(command: str) -> dict[str, Any]:
    return {"name": "Bash", "input": {"command": command}}


async def test_refusals_are_events_shown_in_the_chat_the_result_and_the_task_log(tmp_path: Path) -> None:
    agent = _agent(
        {"name": "Read", "input": {"file_path": "{cwd}/../../ARCHIVE/slack/credentials"}},
        bash("cat ../../ARCHIVE/slack/credentials"),
        bash("echo x > ../../escaped.txt"),
        bash("curl -s -m 30 http://example.com/"),
        summary="tried",
    )
    text = json.dumps({"scripts": [plan("secrets", (WS, "look around", [])), agent]})
    permissions = {"relay": {"actions": []}, "bash": {"allow": ["cat *", "echo *", "curl *"]}}
    async with world(tmp_path, text, settings={"permissions": permissions}) as w:
        (w.root / "ARCHIVE" / "slack").mkdir(parents=True)
        (w.root / "ARCHIVE" / "slack" / "credentials").write_text(f"bot_token : {SECRET}\n")
        await w.ask(f"{WS}: look around", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted), final

        refused = [e for e in w.of_type(PermissionDecided) if not e.allowed]  # type: ignore[attr-defined]
        tools = [(e.tool, e.rule) for e in refused]  # type: ignore[attr-defined]
        assert ("Read", "claude.deny_rule") in tools or ("Read", "read.outside_workspace") in tools, tools
        assert ("Bash", "bash.protected_path") in tools and ("Bash", "bash.redirect") in tools, tools
        assert ("SandboxNetworkAccess", "network.not_listed") in tools, tools
        assert not (w.root / "escaped.txt").exists()
        # The chat: each refusal as progress, and the result says how many instead of a bare ✓.
        out = w.out.getvalue()
        assert "refused Bash cat ../../ARCHIVE/slack/credentials" in out and "refused SandboxNetworkAccess example.com" in out
        [line] = [x for x in final.summary.splitlines() if x.startswith(f"✓ {WS}: tried (")]  # type: ignore[attr-defined]
        assert line.endswith(f"; {len(refused)} actions refused)"), line
        # The task log lists them; the replay shows each.
        log = w.orchestrator.task_log.path_of(final.request_id)
        assert log is not None and f"- Refused actions ({len(refused)}):" in log.read_text()
        timeline = await request_timeline(w.orchestrator.store, final.request_id)
        assert sum(s.event.type == "permission.decided" and not s.event.allowed for s in timeline) == len(refused)  # type: ignore[attr-defined]
        # The secret reached neither the model nor anything recorded.
        assert SECRET not in json.dumps([r.body for r in w.model.requests])
        assert SECRET not in log.read_text() and all(SECRET not in str(s.event) for s in timeline)


def _asked(detail: str) -> Any:
    return lambda e: isinstance(e, PermissionRequested) and e.detail == detail


def _decided(detail: str) -> Any:
    return lambda e: isinstance(e, PermissionDecided) and e.permission_id and e.detail == detail


async def test_a_relayed_command_is_allowed_denied_or_left_to_expire_and_only_the_requester_may_answer(tmp_path: Path) -> None:
    agent = _agent(bash("touch one.txt"), bash("touch two.txt"), bash("touch three.txt"), summary="asked three times")
    text = json.dumps({"scripts": [plan("touch", (WS, "touch three files", [])), agent]})
    settings = {"permissions": {"relay": {"actions": ["bash"], "timeout_s": 600}}}
    clock = ManualClock(datetime.now(UTC))
    async with world(tmp_path, text, settings=settings, clock=clock) as w:
        workspace = w.root / WS
        await w.ask(f"{WS}: touch three files", lambda e: isinstance(e, ConfirmationRequested))
        first = await w.ask("yes", _asked("touch one.txt"))
        assert first.approvers == ["terminal:alice"]  # type: ignore[attr-defined]
        assert "❓ web-app/frontend asks to use Bash: touch one.txt" in w.out.getvalue()
        # Someone else in the conversation may not answer.
        refused = w.terminal.watch(lambda e: isinstance(e, NoticeIssued) and "Only terminal:alice" in e.text)
        await w.post_as("terminal:mallory", "allow")
        await refused

        second = await w.ask("allow", _asked("touch two.txt"))
        assert (workspace / "one.txt").exists()
        third = await w.ask("no", _asked("touch three.txt"))
        assert third.expires_at == third.at + timedelta(seconds=600)  # type: ignore[attr-defined]
        # Nobody answers. Just before the deadline the question is still open: the gate takes an
        # answer to it as one to an open question (had it expired, it would say "already answered").
        clock.advance(599.999)
        refused = w.terminal.watch(lambda e: isinstance(e, NoticeIssued) and "Only terminal:alice" in e.text)
        await w.post_as("terminal:mallory", "allow")
        await asyncio.wait_for(refused, 30)
        done = w.terminal.watch(lambda e: isinstance(e, RequestCompleted))
        clock.advance(0.001)  # the deadline: denied, and the agent carries on
        final = await asyncio.wait_for(done, 60)
        assert not (workspace / "two.txt").exists() and not (workspace / "three.txt").exists()

        answers: dict[str, AnyEvent] = {e.permission_id: e for e in w.of_type(PermissionDecided) if e.permission_id}  # type: ignore[attr-defined]
        assert (answers[first.permission_id].allowed, answers[first.permission_id].by) == (True, "terminal:alice")  # type: ignore[attr-defined]
        assert (answers[second.permission_id].allowed, answers[second.permission_id].by) == (False, "terminal:alice")  # type: ignore[attr-defined]
        assert (answers[third.permission_id].allowed, answers[third.permission_id].by) == (False, "timeout")  # type: ignore[attr-defined]
        assert answers[third.permission_id].at == third.expires_at  # type: ignore[attr-defined]
        assert len(answers) == 3  # one decision per question
        assert "; 2 actions refused)" in final.summary  # type: ignore[attr-defined]
        out = w.out.getvalue()
        assert "✓ Allowed for web-app/frontend: Bash touch one.txt (allowed by terminal:alice)" in out
        assert "✗ Denied for web-app/frontend: Bash touch three.txt (nobody answered within 10 minutes)" in out
        [succeeded] = w.of_type(WorkspaceTaskSucceeded)
        assert succeeded.result.summary == "asked three times"  # type: ignore[attr-defined]


async def test_agents_do_not_run_where_the_sandbox_cannot_unless_it_is_turned_off_which_is_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    bin_dir = tmp_path / "bin"  # bubblewrap without socat: Claude Code would run commands unconfined
    bin_dir.mkdir()
    (bin_dir / "bwrap").symlink_to(shutil.which("bwrap") or "/usr/bin/bwrap")
    monkeypatch.setenv("PATH", str(bin_dir))
    text = json.dumps({"scripts": [plan("touch", (WS, "touch a file", [])), _agent(bash("echo hi > here.txt"), summary="touched")]})
    async with world(tmp_path / "on", text) as w:
        await w.ask(f"{WS}: touch a file", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        [failed] = w.of_type(WorkspaceTaskFailed)
        assert failed.error == (  # type: ignore[attr-defined]
            "the OS sandbox cannot run on this host: socat not installed (apt-get install socat); install it, "
            "or set permissions.sandbox: off in orchestrator.yaml to run agents without it"
        )
        assert not w.model.requests_for("frontend")  # no agent session was started
        assert isinstance(final, RequestCompleted) and final.failed == 1

    caplog.set_level(logging.WARNING, logger="claude_tunnels.tunnels.runtime.orchestrator")
    async with world(tmp_path / "off", text, settings={"permissions": {"sandbox": False}}) as w:
        assert "permissions.sandbox is off" in caplog.text and "WITHOUT Claude Code's OS sandbox" in caplog.text
        await w.ask(f"{WS}: touch a file", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and final.succeeded == 1
        assert (w.root / WS / "here.txt").exists()


async def test_a_question_left_open_when_its_request_is_cancelled_is_closed(tmp_path: Path) -> None:
    text = json.dumps({"scripts": [plan("touch", (WS, "touch a file", [])), _agent(bash("touch never.txt"))]})
    async with world(tmp_path, text) as w:
        await w.ask(f"{WS}: touch a file", lambda e: isinstance(e, ConfirmationRequested))
        asked = await w.ask("yes", lambda e: isinstance(e, PermissionRequested))
        closed = await w.ask("stop", lambda e: isinstance(e, PermissionDecided) and e.permission_id == asked.permission_id)  # type: ignore[attr-defined]
        assert (closed.allowed, closed.by) == (False, "orchestrator")  # type: ignore[attr-defined]
        assert closed.reason == "the task ended before anyone answered"  # type: ignore[attr-defined]
        assert not (w.root / WS / "never.txt").exists()
