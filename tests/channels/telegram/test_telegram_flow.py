"""Whole requests from Telegram: the real aiogram, FakeTelegram, the real Claude Code CLI and the scripted model."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.conversation import ConfirmationGiven, ConfirmationRefused, RequestOpened
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.events.planning import PlanProposed
from claude_tunnels.tunnels.demo.run import REQUEST, demo_scenario_text
from tests.channels.telegram.telegram_world import ALICE, BOB, GROUP, TOPIC, telegram_world
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.fakes.telegram import BOT_USERNAME


async def test_a_request_in_a_forum_topic_with_buttons_progress_and_result(tmp_path: Path) -> None:
    async with telegram_world(tmp_path, demo_scenario_text()) as w:
        fake = w.fake
        await fake.push_message(GROUP, ALICE, f"@{BOT_USERNAME} {REQUEST}", chat_type="supergroup", message_thread_id=TOPIC)

        plan = await fake.wait_for_message(lambda m: m.reply_markup is not None, timeout=90)
        [opened] = await w.stored(RequestOpened)
        rid, ctx = opened.request_id, w.orchestrator.ctx
        assert rid is not None and ctx is not None
        assert (opened.text, opened.requester) == (REQUEST, f"telegram:{ALICE}")
        assert opened.session_key == f"telegram:{GROUP}:t{TOPIC}:u{ALICE}"
        assert (plan.chat_id, plan.message_thread_id, plan.reply_to_message_id) == (GROUP, TOPIC, 1)
        assert plan.text.startswith(f"Plan for request {rid}: Upgrade shared-lib") and "Reply yes to run it" in plan.text
        assert plan.parse_mode == "HTML" and plan.raw_text.startswith("<b>Plan for request")
        buttons = plan.reply_markup["inline_keyboard"][0]  # type: ignore[index]
        revision = ctx.requests.get(rid).revision  # type: ignore[union-attr]
        approve = f"approve:{rid}:{revision}"
        assert [(b["text"], b["callback_data"]) for b in buttons] == [("Approve", approve), ("Cancel", f"cancel:{rid}:{revision}")]

        # Bob may use the bot but may not approve Alice's plan: refused, and the plan stays.
        await fake.push_callback(GROUP, BOB, plan.message_id, approve)
        refused = await w.wait_event(ConfirmationRefused)
        assert refused.by == f"telegram:{BOB}"
        await fake.wait_for(lambda: len(fake.callback_answers) == 1)
        assert fake.callback_answers[0]["text"] == f"Only Tester (@user{ALICE}) or an approver can answer this plan."  # by name
        assert fake.callback_answers[0]["show_alert"] == "true"

        await fake.push_callback(GROUP, ALICE, plan.message_id, approve)
        given = await w.wait_event(ConfirmationGiven)
        assert given.by == f"telegram:{ALICE}"
        final: AnyEvent = await w.wait_event(REQUEST_ENDED, timeout=180)
        assert isinstance(final, RequestCompleted) and (final.succeeded, final.failed) == (5, 0)

        done = await fake.wait_for_message(lambda m: m.text.startswith(f"Done (request {rid}"))
        assert done.message_thread_id == TOPIC and "5 of 5 workspace tasks succeeded" in done.text
        status = await fake.wait_for_message(lambda m: m.text.startswith(f"Request {rid}: phase 3 of 3 (completed)"))
        assert status.history and status.text.count("✓") == 5  # progress went into this one message, edited
        assert len(fake.calls_to("editMessageText")) >= 2
        await fake.wait_for(lambda: plan.reply_markup is None)  # the decided plan lost its buttons
        assert fake.callback_answers[1]["text"] == "Approving…"
        assert not [m for m in fake.messages_in(GROUP) if m.message_thread_id != TOPIC]


async def test_one_chat_is_answered_while_another_chats_request_hangs(tmp_path: Path) -> None:
    hanging = {"name": "planner-alpha", "match": ["Plan the workspace tasks.", "alpha change"], "turns": [{"hang": True}]}
    scripts = json.dumps({"scripts": [hanging, *yaml.safe_load(demo_scenario_text())["scripts"]]})
    async with telegram_world(tmp_path, scripts) as w:
        fake = w.fake
        await fake.push_message(ALICE, ALICE, "in web-app: the alpha change")
        await w.model.wait_for_requests(script="planner-alpha", timeout=60)  # Alice's request hangs in planning
        opened = await w.wait_event(RequestOpened)

        await fake.push_message(BOB, BOB, REQUEST)
        plan = await fake.wait_for_message(lambda m: m.chat_id == BOB and m.reply_markup is not None, timeout=90)
        assert plan.text.startswith("Plan for request") and "web-app/frontend" in plan.text
        await fake.push_message(ALICE, ALICE, "status")
        await fake.wait_for_message(lambda m: m.chat_id == ALICE and m.text == f"Request {opened.request_id} is planning.\nSpent so far: $0.00.")

        assert w.orchestrator.ctx is not None and opened.request_id is not None
        alice = w.orchestrator.ctx.requests.get(opened.request_id)
        assert alice is not None and alice.status == "planning"  # still stuck: it held up nobody
        assert not [e for e in w.seen if isinstance(e, PlanProposed) and e.request_id == opened.request_id]


async def test_an_approvers_typed_yes_replying_to_a_plan_in_a_group_approves_it(tmp_path: Path) -> None:
    script = scenario(plan("alpha", ("api-service", "Apply the alpha change.", []), match="alpha change"),
                      succeeds("api-service", "alpha is in"))
    async with telegram_world(tmp_path, script, approvers=[f"telegram:{BOB}"]) as w:
        fake = w.fake
        await fake.push_message(GROUP, ALICE, f"@{BOT_USERNAME} in api-service: the alpha change", chat_type="supergroup")
        plan_message = await fake.wait_for_message(lambda m: m.reply_markup is not None, timeout=90)
        [opened] = await w.stored(RequestOpened)
        assert opened.session_key == f"telegram:{GROUP}:u{ALICE}"  # Alice's own conversation in the group
        # Bob, an approver, replies "yes" to the plan: it reaches Alice's plan, not a conversation of his.
        await fake.push_message(GROUP, BOB, "yes", chat_type="supergroup", reply_to_bot=True)
        given = await w.wait_event(ConfirmationGiven)
        assert given.by == f"telegram:{BOB}" and given.request_id == opened.request_id
        final: AnyEvent = await w.wait_event(REQUEST_ENDED, timeout=120)
        assert isinstance(final, RequestCompleted) and final.succeeded == 1
        assert len(await w.stored(RequestOpened)) == 1  # Bob's "yes" opened nothing
        await fake.wait_for(lambda: plan_message.reply_markup is None)
