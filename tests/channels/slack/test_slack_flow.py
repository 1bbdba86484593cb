"""Requests from Slack threads end to end: real slack-bolt, FakeSlack, real CLI, scripted model."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.tunnels.demo.run import REQUEST, demo_scenario_text
from tests.channels.slack.slack_world import ALICE, ALPHA, BETA, BOB, CHANNEL, buttons, slack_world, small


async def test_a_request_from_a_thread_is_planned_approved_by_button_and_answered(tmp_path: Path) -> None:
    async with slack_world(tmp_path, demo_scenario_text()) as w:
        asked = await w.say(ALICE, REQUEST)
        root = asked["ts"]
        plan = await w.plan_message(root)
        assert plan.channel == CHANNEL and "Upgrade shared-lib to v2" in plan.text
        assert "shared-lib/core: Bump the library to 2.0.0" in plan.text
        [section] = [b for b in plan.blocks or [] if b["type"] == "section"]
        assert section["text"] == {"type": "mrkdwn", "text": plan.text}

        await w.click(ALICE, plan)
        final = await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Done (request"), 120)

        [done] = w.of_type("request.completed")
        assert isinstance(done, RequestCompleted) and (done.succeeded, done.failed) == (5, 0)
        assert done.session_key == w.session_key(root) and done.request_id in final.text
        assert "5 of 5 workspace tasks succeeded" in final.text
        # One status message, edited in place while the phases ran, ending with every task done.
        status = await w.fake.wait_for_message(lambda m: m.text.startswith(f"Request {done.request_id}: phase 3 of 3 (completed)"))
        assert len(status.history) >= 2 and status.text.count("✓") == 5 and status.thread_ts == root
        assert [m for m in w.fake.messages if m.text.startswith(f"Request {done.request_id}")] == [status]
        assert any(call["ts"] == status.ts for call in w.fake.calls_to("chat.update"))
        # The buttons are gone once the plan was answered; everything went into the thread, in order.
        assert [b["type"] for b in plan.blocks or []] == ["section"]
        thread = w.fake.messages_in(CHANNEL, root)
        assert thread == [m for m in w.fake.messages if not m.ephemeral_user]
        texts = [m.text for m in thread]
        assert texts.index(plan.text) < texts.index(status.text) < texts.index(final.text)
        # People by their Slack names (users.info, asked once); the answered plan says who approved
        # it instead of asking again.
        assert "Approved by u0alice." in texts and "slack:U0ALICE" not in "".join(texts)
        assert "Reply yes" not in plan.text and plan.text.endswith("✓ Approved by u0alice.")
        assert [c["user"] for c in w.fake.calls_to("users.info")] == [ALICE]
        [opened] = w.of_type("request.opened")
        assert opened.requester == "slack:U0ALICE" and opened.text == REQUEST  # type: ignore[attr-defined]


async def test_two_threads_run_two_requests_at_once(tmp_path: Path) -> None:
    # Each task takes 3 s on the model: with warm sessions (no start-up after the click) the first
    # request would otherwise be done before the second click's task starts on a loaded machine.
    async with slack_world(tmp_path, small(delay_s=3)) as w:
        first = (await w.say(ALICE, ALPHA))["ts"]
        second = (await w.say(BOB, BETA))["ts"]
        plans = [await w.plan_message(first), await w.plan_message(second)]
        await w.click(ALICE, plans[0])
        await w.click(BOB, plans[1])

        for root, summary in ((first, "alpha is in"), (second, "beta is in")):
            final = await w.fake.wait_for_message(lambda m, r=root: m.thread_ts == r and m.text.startswith("Done"), 60)
            assert summary in final.text
        completed = w.of_type("request.completed")
        assert {e.session_key for e in completed} == {w.session_key(first), w.session_key(second)}
        opened = {e.session_key: e.requester for e in w.of_type("request.opened")}  # type: ignore[attr-defined]
        assert opened == {w.session_key(first): f"slack:{ALICE}", w.session_key(second): f"slack:{BOB}"}
        # Both ran at once: each task started before the other request completed.
        order = [(e.type, e.session_key) for e in w.events if e.type in ("task.started", "request.completed")]
        started = [i for i, (kind, _) in enumerate(order) if kind == "task.started"]
        assert len(started) == 2 and max(started) < min(i for i, (kind, _) in enumerate(order) if kind == "request.completed")
        assert not [m for m in w.fake.messages_in(CHANNEL, first) if "beta" in m.text]


async def test_a_typed_yes_at_the_top_of_a_dm_approves_the_plan_waiting_in_its_thread(tmp_path: Path) -> None:
    dm = "D0ALICE"
    async with slack_world(tmp_path) as w:
        asked = w.fake.message_event(ALICE, ALPHA, dm, channel_type="im")
        await w.fake.wait_for_ack(await w.fake.push_event(asked))
        root = asked["ts"]
        await w.fake.wait_for_message(lambda m: m.channel == dm and m.thread_ts == root and buttons(m) != {}, 60)
        # Alice answers in the DM itself, not in the plan's thread: the answer reaches that plan.
        yes = w.fake.message_event(ALICE, "yes", dm, channel_type="im")
        await w.fake.wait_for_ack(await w.fake.push_event(yes))

        final = await w.fake.wait_for_message(lambda m: m.channel == dm and m.thread_ts == root and m.text.startswith("Done"), 60)
        assert "alpha is in" in final.text
        await w.settle()
        [approved] = w.of_type("plan.approved")
        assert approved.session_key == f"slack:T000FAKE:{dm}:{root}"
        assert len(w.of_type("request.opened")) == 1  # the "yes" opened nothing of its own
        [received] = [e for e in w.of_type("message.received") if e.text == "yes"]  # type: ignore[attr-defined]
        assert received.session_key == approved.session_key
