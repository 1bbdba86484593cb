"""Conversation actors through a whole orchestrator: retired while a plan waits for its approval,
started again for the answer; two orchestrators in one process stop only their own actors."""

from __future__ import annotations

import asyncio
from pathlib import Path

from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.conversation import ConfirmationRequested, NoticeIssued
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.events.planning import PlanApproved, RouteDecided
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.e2e.world import world

BUMP = scenario(plan("Bump the version", ("api-service", "Bump the version to 2.0.", [])), succeeds("api-service"))
REQUEST = "in api-service: bump the version"  # addressed to one project: routed without a router agent


async def test_a_conversation_actor_is_retired_between_the_request_and_the_answer_to_its_plan(tmp_path: Path) -> None:
    async with world(tmp_path, BUMP) as w:
        assert w.orchestrator.directory is not None
        conversations, key = w.orchestrator.directory.conversations, w.terminal.session_key
        await w.ask(REQUEST, lambda e: isinstance(e, ConfirmationRequested))
        # Routing began only after the message's reaction ended, and the actor retired right then.
        assert conversations.actor(key) is None and conversations.started == 1

        ended = w.terminal.watch(lambda e: isinstance(e, REQUEST_ENDED))
        await w.ask("yes", lambda e: isinstance(e, PlanApproved))
        assert conversations.actor(key) is None and conversations.started >= 2  # a fresh actor took the answer
        final = await asyncio.wait_for(ended, 120)
        assert isinstance(final, RequestCompleted), final
        assert (final.succeeded, final.failed) == (1, 0)


async def test_two_orchestrators_in_one_process_do_not_stop_each_others_actors(tmp_path: Path) -> None:
    async with world(tmp_path / "kept", BUMP) as kept:
        async with world(tmp_path / "stopped", scenario()) as stopped:
            await stopped.ask("status", lambda e: isinstance(e, NoticeIssued), timeout=30)
        # The first orchestrator has stopped its actors; this one's router, planner, gate and
        # conversations still react.
        routed = kept.terminal.watch(lambda e: isinstance(e, RouteDecided))
        await kept.ask(REQUEST, lambda e: isinstance(e, ConfirmationRequested), timeout=60)
        assert routed.done()
