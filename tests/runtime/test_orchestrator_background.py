"""The orchestrator's task group: what runs in the background is cancelled and awaited when the
orchestrator's block exits, and what failed there is raised, not only logged. Real NATS; the
read-only agents are stand-ins, so no Claude Code session runs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.actors.ports import Consultation, Consulted
from claude_tunnels.channels.base import ChatChannel
from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.config.loader import LoadedSettings, load_settings
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator

VAGUE = "tidy things up a little"  # names no project: the router asks its agent


def _settings(tmp_path: Path) -> LoadedSettings:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}}), encoding="utf-8")
    return load_settings(root / "orchestrator.yaml")


class RouterCrash(Exception):
    """Not an `AgentError`: a bug in the agent call, which nothing in the flow handles."""


class Advisors:
    """Stands in for the read-only agents: `crash` raises, otherwise the call hangs until cancelled."""

    def __init__(self, *, crash: bool) -> None:
        self.crash = crash
        self.called = asyncio.Event()
        self.cancelled = False

    async def consult(self, consultation: Consultation) -> Consulted:
        self.called.set()
        if self.crash:
            raise RouterCrash(f"the {consultation.role} call broke")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.to_thread(lambda: None)  # its cleanup really awaits something, and is awaited
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


async def _say(orchestrator: Orchestrator, text: str, session_key: str = "terminal:alice") -> None:
    await orchestrator.post_message(session_key=session_key, channel="terminal", sender="terminal:alice", text=text, message_ref=text)


async def test_a_failure_of_background_work_is_raised_when_the_orchestrator_exits(tmp_path: Path) -> None:
    advisors = Advisors(crash=True)
    with pytest.raises(ExceptionGroup) as raised:
        async with Orchestrator(_settings(tmp_path)) as orchestrator:
            assert orchestrator.ctx is not None
            orchestrator.ctx.advisors = advisors
            await _say(orchestrator, VAGUE)
            await asyncio.wait_for(advisors.called.wait(), 30)
    [crash] = raised.value.exceptions  # the request is still "routing": only the log said so before
    assert isinstance(crash, RouterCrash)
    assert "background task 'route " in "".join(crash.__notes__)


async def test_leaving_cancels_and_awaits_the_background_work_and_leaves_no_task_behind(tmp_path: Path) -> None:
    before = asyncio.all_tasks()
    advisors = Advisors(crash=False)
    async with Orchestrator(_settings(tmp_path)) as orchestrator:
        assert orchestrator.ctx is not None
        orchestrator.ctx.advisors = advisors
        await _say(orchestrator, VAGUE)
        await asyncio.wait_for(advisors.called.wait(), 30)
        names = {task.get_name() for task in orchestrator.background.running}
        # The actors' agent calls and the remote workspaces' watcher are all in the one group.
        assert "presence watch" in names and any(name.startswith("route ") for name in names)
    assert advisors.cancelled  # cancelled, and its cleanup awaited, before the exit returned
    assert orchestrator.background.running == set() and orchestrator.background.closed
    left = asyncio.all_tasks() - before
    ours = {task for task in left if not _nats_internal(task)}
    assert not ours, f"still running after the orchestrator exited: {sorted(task.get_name() for task in ours)}"
    # nats-py's ordered consumers keep a flow-control task that swallows its cancellation and
    # ends on its next tick (every 0.25 s) once the connection is closed: it is not ours to await.
    if left:
        await asyncio.wait(left, timeout=5)
    assert all(task.done() for task in left)


def _nats_internal(task: asyncio.Task[Any]) -> bool:
    return "check_flow_control_response" in repr(task.get_coro())


class _UnreachableChat(ChatChannel):
    """A chat that refuses every post: its replies stay unconfirmed, to be posted again."""

    name = "fake"

    def __init__(self, orchestrator: OrchestratorPort) -> None:
        super().__init__(orchestrator)
        self.tried = asyncio.Event()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self.close()

    async def post(self, session_key: str, text: str, **buttons: Any) -> str:
        self.tried.set()
        raise ConnectionError("the chat is unreachable")

    async def edit(self, session_key: str, ref: str, text: str) -> None:
        raise ConnectionError("the chat is unreachable")


async def test_a_chat_s_failed_post_is_only_logged_as_documented_and_its_outbox_runs_in_the_group(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    chats: list[_UnreachableChat] = []

    def channels(orchestrator: Orchestrator) -> list[_UnreachableChat]:
        chats.append(_UnreachableChat(orchestrator))
        return chats

    async with Orchestrator(_settings(tmp_path), channels=channels) as orchestrator:
        assert orchestrator.ctx is not None
        orchestrator.ctx.advisors = Advisors(crash=False)
        await _say(orchestrator, VAGUE, session_key="fake:alice")
        await asyncio.wait_for(chats[0].tried.wait(), 30)
        names = {task.get_name() for task in orchestrator.background.running}
        assert {"fake retries", "fake outbox fake:alice"} <= names
    # No exception: the reply stays unconfirmed and is posted again after a restart (channels.base).
    assert any("could not deliver" in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)
    assert orchestrator.background.running == set()


class _StuckChannel:
    name = "stuck"

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        raise RuntimeError("the socket would not close")


async def test_a_channel_that_cannot_stop_is_raised_at_the_exit_and_the_rest_still_stops(tmp_path: Path) -> None:
    with pytest.raises(ExceptionGroup) as raised:
        async with Orchestrator(_settings(tmp_path), channels=lambda orchestrator: [_StuckChannel()]) as orchestrator:
            pass
    [error] = raised.value.exceptions
    assert isinstance(error, RuntimeError) and "would not close" in str(error)
    assert orchestrator.background.closed and orchestrator.background.running == set()
