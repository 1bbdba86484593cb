"""SIGKILL the orchestrator after Slack got its ack; the restarted process handles the message once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claude_tunnels.config.loader import LoadedSettings, load_settings
from claude_tunnels.tunnels.backbone import open_backbone
from tests.channels.slack.slack_world import ALICE, ALPHA, APP_TOKEN, BOT_TOKEN, CHANNEL, buttons, small, write_tree
from tests.fakes.slack import FakeSlack

REPO = Path(__file__).resolve().parents[3]


@contextmanager
def orchestrator_process(root: Path, scenario: Path, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """The helper process; SIGKILLed at the end unless the test already ended it."""
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.slack_orchestrator", str(root), str(scenario), *extra],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


async def ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
    assert line.strip() == "READY"


async def stored_types(loaded: LoadedSettings, session_key: str) -> list[str]:
    """The types of a session's events, read from the running orchestrator's stream."""
    async with open_backbone(loaded, role="reader", name="test-reader") as backbone:
        return [s.event.type for s in await backbone.store.read() if s.event.session_key == session_key]


def restart_setup(tmp_path: Path, fake: FakeSlack) -> tuple[Path, LoadedSettings, Path, dict[str, Any], str]:
    """The tree, its settings, the scenario file, Alice's mention and its conversation key."""
    root = write_tree(tmp_path, fake.api_url)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(small())
    event = fake.mention_event(ALICE, ALPHA)
    return root, load_settings(root / "orchestrator.yaml"), scenario, event, f"slack:T000FAKE:{CHANNEL}:{event['ts']}"


async def test_a_message_acked_before_a_kill_is_handled_once_after_restart(tmp_path: Path) -> None:
    async with FakeSlack(BOT_TOKEN, APP_TOKEN) as fake:
        root, loaded, scenario, event, key = restart_setup(tmp_path, fake)

        with orchestrator_process(root, scenario, "--hold") as first:
            await ready(first)
            await fake.wait_for_connections(1)
            envelope_id = await fake.push_event(event)
            await fake.wait_for_ack(envelope_id)
            assert await stored_types(loaded, key) == ["message.received"]  # recorded, not yet acted on
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.to_thread(first.wait, 30)

        with orchestrator_process(root, scenario) as second:
            await ready(second)
            plan = await fake.wait_for_message(lambda m: m.thread_ts == event["ts"] and bool(m.blocks), 60)
            # Slack, not having seen the ack in time, delivers the envelope once more.
            del fake.acks[envelope_id]  # so the wait below is for the new ack
            await fake.push_event(event, envelope_id=envelope_id, retry_attempt=1)
            await fake.wait_for_ack(envelope_id)
            types = await stored_types(loaded, key)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0  # the fake must answer its close

        assert types.count("message.received") == 1 and types.count("request.opened") == 1
        assert "plan.proposed" in types and "request.failed" not in types
        assert [m.ts for m in fake.messages if m.blocks] == [plan.ts]
        assert "alpha" in plan.text


async def test_replies_recorded_but_never_posted_before_a_kill_are_posted_once_after_restart(tmp_path: Path) -> None:
    async with FakeSlack(BOT_TOKEN, APP_TOKEN) as fake:
        root, loaded, scenario, event, key = restart_setup(tmp_path, fake)
        thread = event["ts"]

        def in_thread(text: str) -> list[str]:
            return [m.text for m in fake.messages_in(CHANNEL, thread) if m.text.startswith(text)]

        with orchestrator_process(root, scenario) as first:
            await ready(first)
            await fake.wait_for_connections(1)
            await fake.wait_for_ack(await fake.push_event(event))
            plan = await fake.wait_for_message(lambda m: m.thread_ts == thread and bool(m.blocks), 60)
            # From now on Slack refuses every new message: the approval's answer and the final
            # answer are recorded as events but never reach the thread.
            fake.add_fault("chat.postMessage", status=500, error="internal_error", times=1000)
            action_id, value = buttons(plan)["Approve"]
            clicked = await fake.push_interactive(fake.button_click(ALICE, action_id, value, message_ts=plan.ts, thread_ts=thread))
            await fake.wait_for_ack(clicked)
            await fake.wait_for_call("chat.postMessage", lambda p: str(p.get("text", "")).startswith("Done"), 120)
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.to_thread(first.wait, 30)

        assert in_thread("Done") == [] and in_thread("Approved by") == []
        fake.clear_faults()
        with orchestrator_process(root, scenario) as second:
            await ready(second)
            done = await fake.wait_for_message(lambda m: m.thread_ts == thread and m.text.startswith("Done"), 60)
            types = await stored_types(loaded, key)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0

        assert "alpha is in" in done.text
        # posted once each, in order; what the first run had posted is not posted again
        texts = [m.text for m in fake.messages_in(CHANNEL, thread)]
        assert len(in_thread("Approved by")) == 1 and len(in_thread("Done")) == 1
        assert texts.index(in_thread("Approved by")[0]) < texts.index(done.text)
        assert len(in_thread("Working on it")) == 1 and sum(bool(m.blocks) for m in fake.messages_in(CHANNEL, thread)) == 1
        assert types.count("request.completed") == 1 and "reply.posted" in types
