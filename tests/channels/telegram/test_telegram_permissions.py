"""Relayed permission questions in Telegram: Allow / Deny buttons, who may press them, closed questions."""

from __future__ import annotations

import json
from pathlib import Path

from claude_tunnels.events.execution import PermissionDecided, PermissionRequested, RequestCompleted
from tests.channels.telegram.telegram_world import ALICE, BOB, telegram_world
from tests.e2e.scenarios import plan

WS = "web-app/frontend"


def _scenario(*commands: str) -> str:
    turns: list[dict[str, object]] = [{"tool_uses": [{"name": "Bash", "input": {"command": c}}]} for c in commands]
    turns.append({"structured_output": {"summary": "asked", "test_result": "skip"}})
    agent = {"name": "frontend", "match": [f"Workspace: {WS}\n"], "turns": turns}
    return json.dumps({"scripts": [plan("touch", (WS, "touch files", [])), agent]})


async def test_a_question_is_answered_with_its_buttons_by_the_requester_only(tmp_path: Path) -> None:
    relay = {"permissions": {"relay": {"actions": ["bash"], "timeout_s": 120}}}
    async with telegram_world(tmp_path, _scenario("touch denied.txt", "touch allowed.txt"), **relay) as w:
        fake = w.fake
        await fake.push_message(ALICE, ALICE, f"{WS}: touch files")
        plan_message = await fake.wait_for_message(lambda m: m.reply_markup is not None and m.text.startswith("Plan"), timeout=90)
        approve = plan_message.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
        await fake.push_callback(ALICE, ALICE, plan_message.message_id, approve)

        asked = await w.wait_event(PermissionRequested)
        question = await fake.wait_for_message(lambda m: m.text.startswith("❓") and m.reply_markup is not None, timeout=60)
        assert "asks to use Bash: touch denied.txt" in question.text and "not in the allowlist" in question.text
        buttons = question.reply_markup["inline_keyboard"][0]  # type: ignore[index]
        allow, deny = f"allow:{asked.request_id}:{asked.permission_id}", f"deny:{asked.request_id}:{asked.permission_id}"
        assert [(b["text"], b["callback_data"]) for b in buttons] == [("Allow", allow), ("Deny", deny)]

        # Bob may talk to the bot but may not answer Alice's question: told so, nothing recorded.
        await fake.push_callback(ALICE, BOB, question.message_id, allow)
        await fake.wait_for(lambda: any(a["text"].startswith("Only ") for a in fake.callback_answers))
        [refusal] = [a["text"] for a in fake.callback_answers if a["text"].startswith("Only ")]
        assert refusal.startswith(f"Only Tester (@user{ALICE}) ") and "telegram:" not in refusal  # by name
        await fake.push_callback(ALICE, ALICE, question.message_id, deny)
        denied = await w.wait_event(PermissionDecided)
        assert (denied.allowed, denied.by, denied.permission_id) == (False, f"telegram:{ALICE}", asked.permission_id)
        await fake.wait_for(lambda: question.reply_markup is None, timeout=30)  # answered: its buttons are gone
        await fake.wait_for_message(lambda m: m.text.startswith("✗ Denied for web-app/frontend: Bash touch denied.txt"))

        second = await fake.wait_for_message(lambda m: "touch allowed.txt" in m.text and m.reply_markup is not None, timeout=60)
        allow_second = second.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
        await fake.push_callback(ALICE, ALICE, second.message_id, allow_second)
        final = await w.wait_event(RequestCompleted, timeout=90)
        assert (w.root / WS / "allowed.txt").exists() and not (w.root / WS / "denied.txt").exists()
        assert "; 1 action refused)" in final.summary
        # A press on an answered question changes nothing.
        await fake.push_callback(ALICE, ALICE, question.message_id, allow)
        await fake.wait_for(lambda: any("already answered (denied)" in a["text"] for a in fake.callback_answers))
        decisions = [e for e in await w.stored(PermissionDecided) if e.permission_id == asked.permission_id]
        assert len(decisions) == 1
