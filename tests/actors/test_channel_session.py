"""ChannelSession: what a message means in each state of the conversation, as a table.

Each row: the stage the conversation is in (events folded first), what arrives, and the events
the session records. Who may approve is the ConfirmGate's to check, who may answer a question
the PermissionGate's; who may revise or cancel is the session's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from claude_tunnels.actors.channel_session import ChannelSession
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import Turn
from claude_tunnels.events.values import Usage
from tests.actors.harness import ALICE, BOB, BOSS, World
from tests.actors.story import QUESTION, REQUEST, TEXT, Has, Out, Stage, Story, out, shape

Make = Callable[[Story], AnyEvent]


def says(text: str, sender: str = ALICE, **button: Any) -> Make:
    """A message from `sender` (a button press with `action=`, `request_id=`, `permission_id=`)."""
    return lambda story: story.message(text, sender, **button)


def notice(text: str | Has, level: str = "info") -> Out:
    return out("notice.issued", level=level, text=text)


NOTHING_PENDING = notice("Nothing is running or waiting for approval.")
ONLY_REQUESTER_CANCELS = notice(f"Only {ALICE} or an approver can cancel this request.", "warning")
QUEUED_BY_BOB = out("message.queued", sender=BOB, text="and then update the docs", position=1)

ROWS = [
    # -- nothing going on ------------------------------------------------------------------
    pytest.param("idle", says("please fix the login page"),
                 [out("request.opened", text="please fix the login page", requester=ALICE, channel="slack", history=[])],
                 id="idle: a message opens a request"),
    pytest.param("idle", says("yes"), [NOTHING_PENDING], id="idle: a bare yes is not a request"),
    pytest.param("idle", says("stop", BOB), [NOTHING_PENDING], id="idle: a bare stop is not a request"),
    pytest.param("idle", says("done"), [NOTHING_PENDING], id="idle: a bare done is not a request"),
    pytest.param("idle", says("", action="approve", request_id="R0"), [NOTHING_PENDING], id="idle: a stale button"),
    pytest.param("idle", says("status"), [notice("Nothing is running. Send a request to start.")], id="idle: status"),
    pytest.param("idle", says("x" * 16001),
                 [notice("That message is too long (16001 characters; the limit is 16000). Please shorten it.", "warning")],
                 id="idle: a message over the limit is refused"),
    pytest.param("idle", says("   "), [], id="idle: a blank message is ignored"),
    # -- routing and planning --------------------------------------------------------------
    pytest.param("planning", says("yes"), [notice("The plan is not ready yet; I'll ask when it is.")],
                 id="planning: yes before the plan is shown"),
    pytest.param("routing", says("stop"), [out("request.cancelled", by=ALICE, request_id=REQUEST, usage=Usage())],
                 id="routing: the requester stops it, the request ends"),
    pytest.param("planning", says("stop", BOSS), [out("request.cancelled", by=BOSS, usage=Usage(cost_usd=0.001))],
                 id="planning: an approver stops it, the request ends with what routing cost"),
    pytest.param("planning", says("stop", BOB), [ONLY_REQUESTER_CANCELS], id="planning: someone else may not stop it"),
    pytest.param("planning", says("and then update the docs", BOB), [QUEUED_BY_BOB], id="planning: other text waits"),
    # -- a plan waits for approval -----------------------------------------------------------
    pytest.param("awaiting_approval", says("yes 👍"),
                 [out("confirmation.answered", by=ALICE, answer="approve", request_id=REQUEST)], id="approval: requester approves"),
    pytest.param("awaiting_approval", says("yes", BOB), [out("confirmation.answered", by=BOB, answer="approve")],
                 id="approval: anyone's yes goes to the gate, which checks who"),
    pytest.param("awaiting_approval", says("cancel"), [out("confirmation.answered", by=ALICE, answer="cancel")],
                 id="approval: requester cancels"),
    pytest.param("awaiting_approval", says("", action="approve", request_id=REQUEST),
                 [out("confirmation.answered", by=ALICE, answer="approve")], id="approval: the plan's button"),
    pytest.param("awaiting_approval", says("", action="approve", request_id="R0"),
                 [notice("That button belongs to an earlier plan; nothing changed.")], id="approval: an earlier plan's button"),
    pytest.param("awaiting_approval", says("done"), [out("confirmation.answered", by=ALICE, answer="cancel")],
                 id="approval: done drops the plan (no re-planning)"),
    pytest.param("awaiting_approval", says("never mind"), [out("confirmation.answered", answer="cancel")],
                 id="approval: never mind drops the plan"),
    pytest.param("awaiting_approval", says("No thanks, that's all.", BOSS), [out("confirmation.answered", by=BOSS, answer="cancel")],
                 id="approval: an approver's no thanks drops the plan"),
    pytest.param("awaiting_approval", says("yes", BOSS, request_id=REQUEST), [out("confirmation.answered", by=BOSS, answer="approve")],
                 id="approval: a typed yes a channel addressed to this plan"),
    pytest.param("awaiting_approval", says("yes", BOSS, request_id="R0"),
                 [notice("That answer belongs to an earlier plan; nothing changed.")],
                 id="approval: a typed yes addressed to another plan changes nothing"),
    pytest.param("awaiting_approval", says("use the v3 API instead"),
                 [out("plan.revised", by=ALICE, text="use the v3 API instead", request_id=REQUEST)], id="approval: requester revises"),
    pytest.param("awaiting_approval", says("use the v3 API instead", BOSS), [out("plan.revised", by=BOSS)],
                 id="approval: an approver revises"),
    pytest.param("awaiting_approval", says("use the v3 API instead", BOB),
                 [notice(f"Only {ALICE} or an approver can change this plan.", "warning")],
                 id="approval: someone else may not revise"),
    pytest.param("awaiting_approval", says("status"), [notice(Has(f"Request {REQUEST} is waiting for your approval of the plan."))],
                 id="approval: status"),
    # -- running -----------------------------------------------------------------------------
    pytest.param("executing", says("stop"), [out("request.cancel_requested", by=ALICE, request_id=REQUEST)],
                 id="running: requester stops it"),
    pytest.param("executing", says("stop", BOSS), [out("request.cancel_requested", by=BOSS)], id="running: an approver stops it"),
    pytest.param("executing", says("stop", BOB), [ONLY_REQUESTER_CANCELS], id="running: someone else may not stop it"),
    pytest.param("executing", says("and then update the docs", BOB), [QUEUED_BY_BOB], id="running: other text waits"),
    pytest.param("queued", says("one more thing"), [out("message.queued", sender=ALICE, position=2)],
                 id="running: queued behind the first"),
    pytest.param("executing", says("yes"), [notice("Nothing is waiting for approval right now.")], id="running: a stray yes"),
    pytest.param("executing", says("done"), [notice(f"Request {REQUEST} is still running; say stop to cancel it.")],
                 id="running: done neither stops nor queues"),
    pytest.param("planning", says("done"), [notice("The plan is not ready yet; I'll ask when it is.")],
                 id="planning: done neither stops nor queues"),
    pytest.param("executing", says("status"),
                 [notice(Has(f"Request {REQUEST} is running.\nSpent so far: $0.011.\nPhase 1 of 2; tasks: 1 pending, 1 running."))],
                 id="running: status"),
    pytest.param("queued", says("status"), [notice(Has("1 message(s) queued after it."))], id="running: status tells the queue"),
    # -- a permission question waits -----------------------------------------------------------
    pytest.param("question", says("allow"),
                 [out("permission.answered", permission_id=QUESTION, allowed=True, by=ALICE, request_id=REQUEST)],
                 id="question: typed allow"),
    pytest.param("question", says("no", BOB), [out("permission.answered", permission_id=QUESTION, allowed=False, by=BOB)],
                 id="question: anyone's typed deny goes to the gate, which checks who"),
    pytest.param("question", says("", action="approve", request_id=REQUEST, permission_id=QUESTION),
                 [out("permission.answered", permission_id=QUESTION, allowed=True)], id="question: the Allow button"),
    pytest.param("question", says("", action="cancel", request_id=REQUEST, permission_id=QUESTION),
                 [out("permission.answered", permission_id=QUESTION, allowed=False)], id="question: the Deny button"),
    pytest.param("question", says("stop"), [out("request.cancel_requested", by=ALICE)], id="question: stop still stops"),
    pytest.param("answered", says("yes"), [notice("Nothing is waiting for approval right now.")],
                 id="question answered: a late yes answers nothing"),
    # -- a question about the request ----------------------------------------------------------
    pytest.param("clarifying", says("web-app"),
                 [out("request.opened", text=f"{TEXT}\n\nweb-app", requester=ALICE,
                      history=[Turn(role="assistant", text="Which app do you mean?")])],
                 id="clarifying: the answer reopens the request in the person's words, the question as history"),
    pytest.param("clarifying", says("cancel"), [out("request.cancelled", by=ALICE, request_id=REQUEST)],
                 id="clarifying: cancel drops it"),
    pytest.param("clarifying", says("done"), [out("request.cancelled", by=ALICE, request_id=REQUEST)],
                 id="clarifying: done drops it"),
    # -- after a request -----------------------------------------------------------------------
    pytest.param("ended", says("now the same in api-service"),
                 [out("request.opened", text="now the same in api-service", history=[
                     Turn(role="user", text=TEXT), Turn(role="assistant", text="1 of 1 workspace tasks succeeded.")])],
                 id="follow-up: carries the last request's turns"),
    pytest.param("ended_long_ago", says("now the same in api-service"), [out("request.opened", history=[])],
                 id="follow-up: after the window, no turns"),
    pytest.param("queued", lambda story: story.completed(),
                 [out("request.opened", text="and then update the docs", requester=BOB, message_id="M9")],
                 id="request ended: the queued message becomes a request"),
    pytest.param("executing", lambda story: story.completed(), [], id="request ended: nothing queued, nothing to do"),
]


@pytest.mark.parametrize("stage, arrives, expected", ROWS)
async def test_channel_session(world: World, stage: Stage, arrives: Make, expected: list[Out]) -> None:
    story = Story(world)
    await world.given(*story.up_to(stage))
    session = world.start(ChannelSession, story.session_key)
    assert shape(await world.deliver(session, arrives(story)), expected) == expected


async def test_a_redelivered_message_is_decided_once(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("awaiting_approval"))
    session = world.start(ChannelSession, story.session_key)
    yes = story.message("yes")
    assert [e.type for e in await world.deliver(session, yes)] == ["confirmation.answered"]
    assert await world.deliver(session, yes) == []
