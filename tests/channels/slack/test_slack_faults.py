"""Slack misbehaving mid-request: dropped sockets, disconnect frames, rate limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.slack import SlackChannel
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
