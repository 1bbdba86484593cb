"""Relayed permission questions in a Slack thread: Allow / Deny buttons, only the requester answers."""

from __future__ import annotations

import json
from pathlib import Path

from claude_tunnels.events.execution import PermissionDecided, RequestCompleted
from tests.channels.slack.slack_world import ALICE, BOB, buttons, slack_world
from tests.e2e.scenarios import plan

WS = "web-app/frontend"


async def test_a_question_in_the_thread_is_answered_with_its_buttons(tmp_path: Path) -> None:
    agent = {"name": "frontend", "match": [f"Workspace: {WS}\n"], "turns": [
        {"tool_uses": [{"name": "Bash", "input": {"command": "touch allowed.txt"}}]},
        {"structured_output": {"summary": "touched", "test_result": "skip"}},
    ]}
    script = json.dumps({"scripts": [plan("touch", (WS, "touch a file", [])), agent]})
    async with slack_world(tmp_path, script) as w:
        root = (await w.say(ALICE, f"{WS}: touch a file"))["ts"]
        await w.click(ALICE, await w.plan_message(root))
        question = await w.fake.wait_for_message(lambda m: m.thread_ts == root and "Allow" in buttons(m), 60)
        assert "asks to use Bash: touch allowed.txt" in question.text and set(buttons(question)) == {"Allow", "Deny"}

        await w.click(BOB, question, "Deny")  # Bob may talk to the bot, not answer Alice's question
        await w.fake.wait_for_message(lambda m: m.thread_ts == root and "Only u0alice or an approver" in m.text, 30)
        await w.click(ALICE, question, "Allow")
        await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Done (request"), 90)

        [answer] = [e for e in w.of_type("permission.decided") if isinstance(e, PermissionDecided) and e.permission_id]
        assert (answer.allowed, answer.by) == (True, f"slack:{ALICE}")
        [done] = w.of_type("request.completed")
        assert isinstance(done, RequestCompleted) and "refused" not in done.summary
        assert (w.root / WS / "allowed.txt").exists()
        # Answered: the question keeps its text and loses its buttons.
        await w.fake.wait_for_message(lambda m: m.ts == question.ts and buttons(m) == {}, 30)
