"""Every prompt gets the same earlier conversation: the turns of the follow-up window, never older ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from claude_tunnels.events.conversation import ConfirmationRequested, RequestOpened
from claude_tunnels.events.execution import RequestCancelled, RequestCompleted
from tests.clocks import ManualClock
from tests.e2e.scenarios import plan, router, scenario
from tests.e2e.world import world

TTL_S = 1800
OLD = "what is OLD-TURN-MARKER?"


async def test_a_turn_older_than_the_follow_up_window_reaches_no_prompt(tmp_path: Path) -> None:
    script = scenario(
        router([], "what is"),
        {"name": "direct", "match": ["needs no project change"], "turns": [{"text": "It is tea time."}]},
        plan("fresh", ("api-service", "x", []), match="fresh</user_message>"),
        plan("stale", ("api-service", "x", []), match="stale</user_message>"),
    )
    clock = ManualClock(datetime.now(UTC))
    async with world(tmp_path, script, limits={"followup_ttl_s": TTL_S}, clock=clock) as w:
        answered = await w.run_to_end(OLD)
        assert isinstance(answered, RequestCompleted) and "tea time" in answered.summary

        # Within the window the planner sees the earlier turns, exactly as recorded for the request.
        await w.ask("in api-service: fresh", lambda e: isinstance(e, ConfirmationRequested))
        [fresh] = w.model.requests_for("planner-fresh")
        assert OLD in fresh.task_text and "It is tea time." in fresh.task_text
        assert isinstance(await w.run_to_end("cancel"), RequestCancelled)

        clock.advance(TTL_S + 1)
        await w.ask("in api-service: stale", lambda e: isinstance(e, ConfirmationRequested))
        [stale] = w.model.requests_for("planner-stale")
        assert "OLD-TURN-MARKER" not in stale.task_text and "<earlier_conversation" not in stale.task_text
        assert isinstance(await w.run_to_end("cancel"), RequestCancelled)

        # A follow-up right after: the router and the direct answer see the conversation since the
        # pause, and still nothing from before it.
        await w.run_to_end("what is next?")
        router_seen, direct_seen = w.model.requests_for("router-what is")[-1], w.model.requests_for("direct")[-1]
        for seen in (router_seen, direct_seen):
            assert "in api-service: stale" in seen.task_text and "OLD-TURN-MARKER" not in seen.task_text
        opened = [e for e in w.terminal.events if isinstance(e, RequestOpened) and e.text in ("in api-service: stale", "what is next?")]
        assert [[turn.text for turn in e.history] for e in opened] == [[], ["in api-service: stale", "(cancelled)"]]
