"""The session state machine as a table: events in, state out."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

import pytest

from claude_tunnels.events.base import Event
from claude_tunnels.events.conversation import MessageQueued, NoticeIssued, PlanRevised, ReplyPosted, Turn
from claude_tunnels.events.execution import RequestCancelled, RequestFailed
from claude_tunnels.events.planning import ClarificationNeeded
from claude_tunnels.projections.sessions import MAX_TURNS, SessionState, evolve
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"
R1 = "01REQUEST0000000000000001"


def fold(events: list[Event]) -> SessionState:
    return reduce(evolve, events, SessionState(key=KEY))


def opened(ev: Events) -> list[Event]:
    return [ev.message(KEY, "upgrade core"), ev.opened(KEY, R1, "upgrade core")]


def proposed(ev: Events) -> list[Event]:
    return [*opened(ev), ev.routed(KEY, R1, ["shared"]), ev.proposed(KEY, R1, two_phase_plan()), ev.asked(KEY, R1)]


def revised(ev: Events) -> list[Event]:
    return [*proposed(ev), PlanRevised(request_id=R1, by="terminal:alice", text="also docs", message_id="m2", **ev.envelope(KEY))]


def clarifying(ev: Events) -> list[Event]:
    return [*opened(ev), ClarificationNeeded(request_id=R1, question="which project?", **ev.envelope(KEY))]


def executing(ev: Events) -> list[Event]:
    return [*proposed(ev), ev.approved(KEY, R1)]


def completed(ev: Events) -> list[Event]:
    return [*executing(ev), ev.completed(KEY, R1)]


def failed(ev: Events) -> list[Event]:
    return [*executing(ev), RequestFailed(request_id=R1, reason="x", **ev.envelope(KEY))]


def cancelled(ev: Events) -> list[Event]:
    return [*proposed(ev), RequestCancelled(request_id=R1, by="terminal:alice", **ev.envelope(KEY))]


def other_request_ends(ev: Events) -> list[Event]:
    return [*executing(ev), ev.completed(KEY, "01OTHER000000000000000000")]


@pytest.mark.parametrize(
    "story, status, request_id",
    [
        (lambda ev: [ev.message(KEY, "hi")], "idle", None),
        (opened, "planning", R1),
        (clarifying, "pending_confirmation", R1),
        (proposed, "pending_plan_approval", R1),
        (revised, "planning", R1),
        (executing, "executing", R1),
        (completed, "awaiting_followup", None),
        (failed, "awaiting_followup", None),
        (cancelled, "awaiting_followup", None),
        (other_request_ends, "executing", R1),
    ],
)
def test_status_after_each_story(story: Callable[[Events], list[Event]], status: str, request_id: str | None) -> None:
    state = fold(story(Events()))
    assert state.status == status
    assert (state.request.request_id if state.request else None) == request_id


def test_pending_approval_keeps_plan_and_expiry_and_revision_counts() -> None:
    ev = Events()
    state = fold(proposed(ev))
    assert state.request is not None and state.request.plan == two_phase_plan()
    assert state.request.expires_at is not None
    state = fold(revised(Events()))
    assert state.request is not None and state.request.revision == 1 and state.request.plan is None


def test_queue_fills_while_executing_and_empties_when_the_message_opens_a_request() -> None:
    ev = Events()
    events = executing(ev)
    events.append(MessageQueued(request_id=R1, message_id="q1", text="next thing", sender="terminal:alice", **ev.envelope(KEY)))
    state = fold(events)
    assert [m.text for m in state.queue] == ["next thing"]
    events += [ev.completed(KEY, R1), ev.opened(KEY, "01REQUEST0000000000000002", "next thing", message_id="q1")]
    state = fold(events)
    assert state.queue == () and state.status == "planning"


def test_turns_keep_the_conversation_bounded() -> None:
    ev = Events()
    state = SessionState(key=KEY)
    for n in range(MAX_TURNS):
        rid = f"01REQ{n:021d}"
        # Each follow-up carries the conversation so far, as the channel session records it.
        for event in (ev.opened(KEY, rid, f"ask {n}", history=state.turns), ev.completed(KEY, rid, f"answer {n}")):
            state = evolve(state, event)
    assert len(state.turns) == MAX_TURNS
    assert state.turns[-1].text == f"answer {MAX_TURNS - 1}" and state.turns[-1].role == "assistant"


def test_a_request_without_history_starts_the_conversation_afresh() -> None:
    ev = Events()
    events: list[Event] = [*completed(ev), ev.opened(KEY, "01REQUEST0000000000000002", "something new")]
    assert fold(events).turns == (Turn(role="user", text="something new"),)
    follow = ev.opened(KEY, "01REQUEST0000000000000003", "and more", history=[Turn(role="user", text="something new")])
    assert fold([*events, follow]).turns == (Turn(role="user", text="something new"), Turn(role="user", text="and more"))


def test_last_activity_is_not_moved_by_the_message_being_decided_nor_by_a_posted_reply() -> None:
    ev = Events()
    events = completed(ev)
    ended = fold(events).last_activity
    message = ev.message(KEY, "a follow-up, hours later")
    posted = ReplyPosted(channel="terminal", in_reply_to=message.id, **ev.envelope(KEY))
    assert fold([*events, posted, message]).last_activity == ended
    notice = NoticeIssued(text="Nothing is running.", **ev.envelope(KEY))
    assert fold([*events, message, notice]).last_activity == notice.at


def test_decided_records_which_message_a_decision_answered() -> None:
    ev = Events()
    message = ev.message(KEY, "go")
    opened_event = ev.opened(KEY, R1, "go", message_id=message.id)
    opened_event = type(opened_event)(**{**{f: getattr(opened_event, f) for f in opened_event.__struct_fields__}, "causation_id": message.id})
    state = fold([message, opened_event])
    assert message.id in state.decided
