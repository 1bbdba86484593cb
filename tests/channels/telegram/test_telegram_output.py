"""What a Telegram chat shows: code as code, a direct answer once, a settled plan message, people's names."""

from __future__ import annotations

import json
from pathlib import Path

from claude_tunnels.events.conversation import ConfirmationGiven, ConfirmationRefused, ReplyPosted
from claude_tunnels.events.execution import RequestCompleted
from tests.channels.telegram.telegram_world import ALICE, BOB, telegram_world
from tests.e2e.scenarios import plan, succeeds

ANSWER = "Run `make test`, or the linters alone:\n```sh\nmake lint\n```\nThat is all."


async def test_a_direct_answer_is_posted_once_with_its_code_as_code(tmp_path: Path) -> None:
    scripts = json.dumps({"scripts": [
        {"name": "router", "match": ["Which projects is this request about?", "<user_message>how do I run"],
         "turns": [{"structured_output": {"projects": []}}]},
        {"name": "direct", "match": ["<user_message>how do I run"], "turns": [{"text": ANSWER}]},
    ]})
    async with telegram_world(tmp_path, scripts) as w:
        await w.fake.push_message(ALICE, ALICE, "how do I run the tests?")
        done = await w.wait_event(RequestCompleted, timeout=120)
        answer = await w.fake.wait_for_message(lambda m: "That is all." in m.text)
        # The channel has dealt with the request's end (confirmed it as shown, posting nothing for it).
        reply = await w.wait_until(lambda e: isinstance(e, ReplyPosted) and e.in_reply_to == done.id)
        assert isinstance(reply, ReplyPosted) and reply.chat_ref == ""

        shown = [m.text for m in w.fake.messages_in(ALICE)]
        assert shown == [f"Working on it (request {done.request_id}).", answer.text]  # the answer once, no "Done"
        assert answer.parse_mode == "HTML"
        assert "<code>make test</code>" in answer.raw_text and '<pre><code class="language-sh">make lint</code></pre>' in answer.raw_text
        assert "`" not in answer.text  # Telegram shows code blocks, not backticks


async def test_an_answered_plan_loses_its_question_and_people_are_shown_by_name(tmp_path: Path) -> None:
    scripts = json.dumps({"scripts": [plan("alpha", ("api-service", "Apply the alpha change.", [])), succeeds("api-service", "alpha is in")]})
    async with telegram_world(tmp_path, scripts) as w:
        fake = w.fake
        await fake.push_message(ALICE, ALICE, "in api-service: the alpha change")
        message = await fake.wait_for_message(lambda m: m.reply_markup is not None, timeout=90)
        assert "Reply yes to run it" in message.text
        approve = message.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]

        await fake.push_callback(ALICE, BOB, message.message_id, approve)  # Bob may not answer for Alice
        await w.wait_event(ConfirmationRefused)
        await fake.wait_for(lambda: len(fake.callback_answers) == 1)
        assert fake.callback_answers[0]["text"] == f"Only Tester (@user{ALICE}) or an approver can answer this plan."

        await fake.push_callback(ALICE, ALICE, message.message_id, approve)
        await w.wait_event(ConfirmationGiven)
        await fake.wait_for_message(lambda m: m.text.startswith("Done (request"), timeout=120)
        await fake.wait_for(lambda: message.reply_markup is None)
        assert "Reply yes" not in message.text and message.text.endswith(f"✓ Approved by Tester (@user{ALICE}).")
        assert any(m.text == f"Approved by Tester (@user{ALICE})." for m in fake.messages_in(ALICE))
        assert f"telegram:{ALICE}" not in "".join(m.text for m in fake.messages_in(ALICE))
