"""What a Slack thread shows: one notice per cancel, a settled plan message, names, only the scopes asked for."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.channels.slack.manifest import METHOD_SCOPES
from claude_tunnels.events.execution import RequestCancelled
from tests.channels.slack.slack_world import ALICE, ALPHA, CHANNEL, slack_world


async def test_a_cancelled_plan_gives_one_notice_and_its_message_says_so(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        root = (await w.say(ALICE, ALPHA))["ts"]
        plan = await w.plan_message(root)
        assert "Reply yes to run it" in plan.text
        await w.click(ALICE, plan, "Cancel")
        cancelled = await w.wait_event(lambda e: isinstance(e, RequestCancelled))
        # every reply of the request is posted (and confirmed) before the plan's message is edited
        await w.wait_event(lambda e: e.type == "reply.posted" and e.in_reply_to == cancelled.id)  # type: ignore[attr-defined]
        await w.fake.wait_for_message(lambda m: m.ts == plan.ts and "Cancelled by" in m.text)

        notices = [m for m in w.fake.messages_in(CHANNEL, root) if m.ts != plan.ts and "ancel" in m.text]
        assert [m.text for m in notices] == [f"Request {cancelled.request_id} cancelled by u0alice."]
        assert "Reply yes" not in plan.text and plan.text.endswith("✗ Cancelled by u0alice; nothing ran.")
        assert [b["type"] for b in plan.blocks or []] == ["section"]
        # The channel called only Web API methods whose scopes `tunnels slack manifest` asks for.
        assert {method for method, _ in w.fake.calls} <= set(METHOD_SCOPES)
