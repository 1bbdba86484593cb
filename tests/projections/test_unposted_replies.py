"""Which chat replies a session still owes its chat: recorded, not yet confirmed with `reply.posted`."""

from __future__ import annotations

from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import CHAT_REPLIES
from claude_tunnels.events.conversation import ReplyPosted
from claude_tunnels.projections.sessions import MAX_UNPOSTED, SessionState, track_replies
from tests.factories import Events

KEY = "slack:T1:C1:1.0"
R1 = "01REQUEST0000000000000001"


def fold(events: list[Event]) -> SessionState:
    state = SessionState(key=KEY)
    for seq, event in enumerate(events, 1):
        state = track_replies(state, seq, event)
    return state


def posted(ev: Events, replied: Event) -> ReplyPosted:
    return ReplyPosted(request_id=R1, channel="slack", in_reply_to=replied.id, chat_ref="1.1", **ev.envelope(KEY))


def test_a_reply_is_owed_until_its_posting_is_confirmed() -> None:
    ev = Events()
    message, opened = ev.message(KEY, "hi"), ev.opened(KEY, R1, "hi")
    dispatched, completed = ev.dispatched(KEY, R1, "api"), ev.completed(KEY, R1)
    state = fold([message, opened, dispatched, completed])
    # the person's own message and task progress are not replies; the opening and the end are
    assert [(p.seq, p.event_id) for p in state.unposted] == [(2, opened.id), (4, completed.id)]
    state = fold([message, opened, dispatched, completed, posted(ev, opened)])
    assert [p.event_id for p in state.unposted] == [completed.id]
    assert state.unposted[0].at == completed.at


def test_a_confirmation_of_something_else_changes_nothing() -> None:
    ev = Events()
    opened = ev.opened(KEY, R1, "hi")
    state = fold([opened])
    assert track_replies(state, 9, posted(ev, ev.message(KEY, "x"))) is state


def test_only_the_newest_replies_are_kept() -> None:
    ev = Events()
    opened = [ev.opened(KEY, f"R{n}", "hi") for n in range(MAX_UNPOSTED + 5)]
    state = fold(opened)
    assert [p.event_id for p in state.unposted] == [e.id for e in opened[-MAX_UNPOSTED:]]


def test_chat_replies_are_what_a_chat_channel_posts() -> None:
    from claude_tunnels.channels.base import STATUS_EVENTS
    from claude_tunnels.events.planning import PlanProposed

    # progress edits the status message and a plan is shown with its question: neither is a reply
    assert not set(CHAT_REPLIES) & {*STATUS_EVENTS, PlanProposed, ReplyPosted}
