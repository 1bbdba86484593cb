"""ConfirmGate: asking for approval, who may answer, and expiry, as a table.

Each row: the stage the request is in, what reaches the gate (an event, or its timer's
`Expire`), and the events it records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from claude_tunnels.actors.confirm_gate import ConfirmGate, Expire
from claude_tunnels.actors.confirm_policy import relayed_from_parent
from claude_tunnels.actors.once import reaction_id
from claude_tunnels.config.settings import ChannelSettings, Settings, SlackChannelSettings
from claude_tunnels.events.conversation import ConfirmationGiven, ConfirmationRequested
from claude_tunnels.events.values import Usage
from tests.actors.harness import ALICE, BOB, BOSS, World, running
from tests.actors.story import REQUEST, Out, Stage, Story, out, shape

Make = Callable[[Story], object]

GIVEN_BY_ALICE = [out("confirmation.given", by=ALICE, auto=False), out("plan.approved", by=ALICE, auto=False, request_id=REQUEST)]
NOTHING_WAITING = [out("confirmation.refused", by=ALICE, reason="nothing is waiting for approval")]
BOB_MAY_NOT = [out("confirmation.refused", by=BOB, reason=f"{BOB} may not answer for {ALICE}'s request; ask them or an approver")]
EXPIRED = [
    out("confirmation.expired", request_id=REQUEST),
    out("request.failed", stage="approval", reason="nobody approved the plan within 30 minutes; send the request again to re-plan"),
]

ROWS = [
    # -- a plan is proposed ------------------------------------------------------------------
    pytest.param("planning", lambda s: s.proposed(),
                 [out("confirmation.requested", requester=ALICE, approvers=[ALICE, BOSS], revision=0)], id="proposed: ask"),
    pytest.param("awaiting_approval", lambda s: s.last("plan.proposed"), [], id="proposed again: asked already"),
    pytest.param("revising", lambda s: s.last("plan.proposed"), [], id="proposed, then revised: the old plan is not asked"),
    pytest.param("revising", lambda s: s.proposed(revision=1), [out("confirmation.requested", revision=1)],
                 id="revised plan proposed: ask again"),
    # -- an answer ----------------------------------------------------------------------------
    pytest.param("awaiting_approval", lambda s: s.answered(ALICE, "approve"), GIVEN_BY_ALICE, id="requester approves"),
    pytest.param("awaiting_approval", lambda s: s.answered(BOSS, "approve"),
                 [out("confirmation.given", by=BOSS), out("plan.approved", by=BOSS)], id="an approver approves"),
    pytest.param("awaiting_approval", lambda s: s.answered(BOB, "approve"), BOB_MAY_NOT, id="someone else may not approve"),
    pytest.param("awaiting_approval", lambda s: s.answered(BOB, "cancel"), BOB_MAY_NOT, id="someone else may not cancel"),
    pytest.param("awaiting_approval", lambda s: s.answered(ALICE, "cancel"),
                 [out("confirmation.cancelled", by=ALICE), out("request.cancelled", by=ALICE, usage=Usage(cost_usd=0.011))],
                 id="requester cancels: the request ends with what it cost"),
    pytest.param("awaiting_approval", lambda s: s.answered(BOSS, "cancel"),
                 [out("confirmation.cancelled", by=BOSS), out("request.cancelled", by=BOSS)], id="an approver cancels"),
    pytest.param("executing", lambda s: s.answered(ALICE, "approve"), NOTHING_WAITING, id="approved already: nothing waits"),
    pytest.param("revising", lambda s: s.answered(ALICE, "approve"), NOTHING_WAITING, id="being revised: nothing waits"),
    pytest.param("ended", lambda s: s.answered(ALICE, "cancel"),
                 [out("confirmation.refused", reason="nothing is waiting for approval")], id="request ended: nothing waits"),
    # -- the timer -------------------------------------------------------------------------------
    pytest.param("awaiting_approval", lambda s: s.after(1800, lambda: Expire(REQUEST, 0)), EXPIRED, id="expiry: nobody answered"),
    pytest.param("awaiting_approval", lambda s: s.after(60, lambda: Expire(REQUEST, 0)), [], id="expiry: fired early, waits"),
    pytest.param("revising", lambda s: s.after(1800, lambda: Expire(REQUEST, 0)), [], id="expiry: of a revised plan"),
    pytest.param("executing", lambda s: s.after(1800, lambda: Expire(REQUEST, 0)), [], id="expiry: approved in time"),
]


@pytest.mark.parametrize("stage, arrives, expected", ROWS)
async def test_confirm_gate(world: World, stage: Stage, arrives: Make, expected: list[Out]) -> None:
    story = Story(world)
    await world.given(*story.up_to(stage))
    gate = world.start(ConfirmGate)
    assert shape(await world.react(gate, arrives(story)), expected) == expected


async def test_the_approval_expires_its_ttl_after_it_was_asked(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("planning"))
    gate = world.start(ConfirmGate)
    [asked] = await world.deliver(gate, story.proposed())
    assert isinstance(asked, ConfirmationRequested) and asked.expires_at - asked.at == timedelta(seconds=1800)
    world.clock.advance(1799)
    assert await world.ask(gate, Expire(REQUEST, 0)) == []
    world.clock.advance(1)
    assert shape(await world.ask(gate, Expire(REQUEST, 0)), EXPIRED) == EXPIRED


async def test_a_channel_with_auto_approve_runs_the_plan_without_asking() -> None:
    auto = Settings(channels=ChannelSettings(slack=SlackChannelSettings(auto_approve=True)))
    async with running(auto) as world:
        story = Story(world)
        await world.given(*story.up_to("planning"))
        gate = world.start(ConfirmGate)
        expected = [out("confirmation.given", by="auto", auto=True), out("plan.approved", by="auto", auto=True)]
        assert shape(await world.deliver(gate, story.proposed()), expected) == expected


async def test_an_answer_delivered_again_after_a_restart_is_neither_approved_twice_nor_refused(world: World) -> None:
    # The old process recorded the approval and died before the answer's delivery was acknowledged.
    story = Story(world)
    await world.given(*story.up_to("awaiting_approval"))
    gate = world.start(ConfirmGate)
    answer = story.answered(ALICE, "approve")
    assert shape(await world.deliver(gate, answer), GIVEN_BY_ALICE) == GIVEN_BY_ALICE
    assert await world.deliver(gate, answer) == []


async def test_an_answer_cut_short_between_its_two_facts_records_only_the_missing_one(world: World) -> None:
    # "Approved by alice" was stored, the plan's approval was not: the answer comes again.
    story = Story(world)
    answer = story.answered(ALICE, "approve")
    given = ConfirmationGiven(
        id=reaction_id(answer.id, answer.at, "confirmation.given"), at=answer.at, session_key=answer.session_key,
        causation_id=answer.id, request_id=REQUEST, by=ALICE,
    )
    await world.given(*story.up_to("awaiting_approval"), answer, given)
    assert shape(await world.deliver(world.start(ConfirmGate), answer), GIVEN_BY_ALICE[1:]) == GIVEN_BY_ALICE[1:]
    assert [e.type for e in world.log.events].count("confirmation.given") == 1


def test_only_an_answer_about_a_parents_task_is_taken_on_the_parents_word() -> None:
    assert relayed_from_parent("parent:terminal:alice", delegated=True)  # answered in the parent's conversation
    assert not relayed_from_parent("parent:terminal:alice", delegated=False)  # an ordinary request: the usual check
    assert not relayed_from_parent("slack:U123", delegated=True)
