"""Slack misbehaving mid-request: dropped sockets, disconnect frames, rate limits."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from claude_tunnels.channels.base import LATE_PLAN_NOTE
from claude_tunnels.channels.slack import SlackChannel
from tests.channels.slack.slack_world import ALICE, ALPHA, BOB, CHANNEL, slack_world, small


async def test_a_dropped_socket_mid_request_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    async with slack_world(tmp_path, small(delay_s=1)) as w:
        root = (await w.say(ALICE, ALPHA))["ts"]
        plan = await w.plan_message(root)
        await w.fake.drop_sockets()
        await w.fake.wait_for_connections(2)
        await w.click(ALICE, plan)  # over the new connection
        await w.wait_event(lambda e: e.type == "task.started")
        await w.fake.drop_sockets()  # while the workspace agent runs
        await w.fake.wait_for_connections(3)
        await w.say(ALICE, "status", thread_ts=root)

        await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Done"), 60)
        await w.settle()
        assert len(w.of_type("request.opened")) == 1 and len(w.of_type("request.completed")) == 1
        assert [e.text for e in w.of_type("message.received")] == [ALPHA, "approve", "status"]  # type: ignore[attr-defined]
        assert len([m for m in w.fake.messages_in(CHANNEL, root) if m.text.startswith("Done")]) == 1


async def test_a_disconnect_frame_reconnects_and_a_typed_approval_goes_through(tmp_path: Path) -> None:
    async with slack_world(tmp_path, approvers=[f"slack:{BOB}"]) as w:
        root = (await w.say(ALICE, ALPHA))["ts"]
        opened = w.fake.open_calls
        await w.fake.send_disconnect("refresh_requested")
        await w.fake.wait_for_connections(2)
        assert w.fake.open_calls == opened + 1
        await w.plan_message(root)
        # Bob, a configured approver, types his answer in the thread (no mention needed there).
        await w.say(BOB, "yes", thread_ts=root, mention=False)

        await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Done"), 60)
        await w.settle()
        assert len(w.of_type("request.opened")) == 1
        [approved] = w.of_type("plan.approved")
        assert approved.by == f"slack:{BOB}"  # type: ignore[attr-defined]


async def test_a_rate_limited_post_lands_after_retry_after(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        w.fake.add_fault("chat.postMessage", status=429, retry_after=1)
        root = (await w.say(ALICE, ALPHA))["ts"]

        plan = await w.plan_message(root)
        posts = w.fake.calls_to("chat.postMessage")
        # The refused call and its retry carried the same message; it was shown once.
        assert posts[0]["text"] == posts[1]["text"]
        assert [m.text for m in w.fake.messages_in(CHANNEL, root)].count(posts[0]["text"]) == 1
        assert plan.text in [p["text"] for p in posts]


async def test_a_reply_slack_refused_is_posted_again_while_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SlackChannel, "retry_unconfirmed_s", 0.5)
    async with slack_world(tmp_path) as w:
        event = await w.say(ALICE, ALPHA)
        plan = await w.plan_message(event["ts"])
        w.fake.add_fault("chat.postMessage", status=500, error="internal_error", times=1)  # Slack has a bad moment
        await w.click(ALICE, plan)
        approved = await w.fake.wait_for_message(lambda m: m.text.startswith("Approved by"), timeout=30)
        done = await w.fake.wait_for_message(lambda m: m.text.startswith("Done"), timeout=90)
        failed_calls = [c for c in w.fake.calls_to("chat.postMessage") if str(c.get("text", "")).startswith("Approved by")]
        assert len(failed_calls) == 2  # refused once, posted by the retry
        texts = [m.text for m in w.fake.messages_in(CHANNEL, event["ts"])]
        assert texts.count(approved.text) == 1 and texts.count(done.text) == 1
        assert sum(t.startswith("Working on it") for t in texts) == 1  # nothing confirmed is posted again


async def test_a_reply_slack_keeps_refusing_is_tried_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SlackChannel, "retry_unconfirmed_s", 0.2)
    monkeypatch.setattr(SlackChannel, "max_attempts", 3)
    gave_up = asyncio.Event()
    loop = asyncio.get_running_loop()

    class GiveUp(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "failed 3 times" in record.getMessage():
                loop.call_soon_threadsafe(gave_up.set)

    handler = GiveUp()
    logging.getLogger("claude_tunnels.channels.base").addHandler(handler)
    try:
        async with slack_world(tmp_path) as w:
            event = await w.say(ALICE, ALPHA)
            plan = await w.plan_message(event["ts"])

            def approval_note(params: dict[str, object]) -> bool:
                return str(params.get("text", "")).startswith("Approved by")

            w.fake.refuse("chat.postMessage", approval_note)  # this one message never goes through
            await w.click(ALICE, plan)
            await w.fake.wait_for_message(lambda m: m.text.startswith("Done"), timeout=90)  # the rest flows on
            await asyncio.wait_for(gave_up.wait(), 30)
            assert len([c for c in w.fake.calls_to("chat.postMessage") if approval_note(c)]) == 3
            # the next retry round leaves it for the next start
            given = w.of_type("confirmation.given")[0]
            [given_seq] = [s.seq for s in await w.orchestrator.store.read() if s.event.id == given.id]
            w.channel._queue_unconfirmed(older_than_s=0)
            assert given_seq not in w.channel._queued
            assert not [e for e in w.of_type("reply.posted") if e.in_reply_to == given.id]  # type: ignore[attr-defined]
    finally:
        logging.getLogger("claude_tunnels.channels.base").removeHandler(handler)


async def test_a_plan_posted_late_carries_no_buttons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No timed retry: the test says when the unconfirmed plan is posted again (after the answer),
    # so a retry cannot beat Alice's "yes" on a busy machine.
    monkeypatch.setattr(SlackChannel, "retry_unconfirmed_s", 3600)
    async with slack_world(tmp_path) as w:

        def is_plan(params: dict[str, object]) -> bool:
            return str(params.get("text", "")).startswith("Plan for request")

        w.fake.refuse("chat.postMessage", is_plan)
        root = (await w.say(ALICE, ALPHA))["ts"]
        await w.fake.wait_for_call("chat.postMessage", is_plan, 60)  # the plan did not reach the thread
        w.fake.clear_faults()
        await w.say(ALICE, "yes", thread_ts=root, mention=False)  # Alice answers without having seen it
        await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Done"), 90)
        w.channel._queue_unconfirmed(older_than_s=0)  # the retry round
        late = await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Plan for request"), 30)
        assert LATE_PLAN_NOTE in late.text and "Reply yes" not in late.text
        assert not late.blocks or not [b for b in late.blocks if b.get("type") == "actions"]
