"""What a Slack event or click means (pure functions): thread keys, refs, text, the allowlist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claude_tunnels.channels.slack.blocks import APPROVE_ACTION, CANCEL_ACTION, approval_blocks
from claude_tunnels.channels.slack.inbound import (
    Allowlist,
    answer_target,
    from_click,
    from_event,
    parse_session_key,
    plain_text,
    session_key,
)
from claude_tunnels.config.settings import SlackChannelSettings
from claude_tunnels.projections.sessions import ActiveRequest, SessionState, SessionStatus
from tests.fakes.slack import BOT_USER_ID, FakeSlack

fake = FakeSlack()  # only its event builders; no server


def test_a_top_level_message_starts_a_thread_and_replies_continue_it() -> None:
    top = fake.message_event("U1", "hello", ts="1700000001.000100")
    reply = fake.message_event("U2", "more", ts="1700000009.000200", thread_ts="1700000001.000100")
    first, second = from_event(top, team="T1", bot_user_id=BOT_USER_ID), from_event(reply, team="T1", bot_user_id=BOT_USER_ID)
    assert first is not None and second is not None
    assert first.session_key == second.session_key == "slack:T1:C0FAKE:1700000001.000100"
    assert (first.message_ref, second.message_ref) == ("C0FAKE:1700000001.000100", "C0FAKE:1700000009.000200")
    assert first.sent_at == datetime.fromtimestamp(1700000001.0001, UTC) and first.sender == "slack:U1"
    assert parse_session_key(first.session_key) == ("T1", "C0FAKE", "1700000001.000100")


def test_message_and_app_mention_of_one_message_mean_the_same() -> None:
    mention = fake.mention_event("U1", "fix it", ts="1700000002.000001")
    plain = {**mention, "type": "message", "channel_type": "channel"}
    assert from_event(mention, team="T", bot_user_id=BOT_USER_ID) == from_event(plain, team="T", bot_user_id=BOT_USER_ID)


@pytest.mark.parametrize("change", [
    {"bot_id": "B0OTHER"}, {"user": BOT_USER_ID}, {"subtype": "message_changed"}, {"subtype": "channel_join"},
    {"user": ""},
])
def test_what_no_person_wrote_is_ignored(change: dict[str, str]) -> None:
    assert from_event({**fake.message_event("U1", "x"), **change}, team="T", bot_user_id=BOT_USER_ID) is None


def test_the_leading_mention_is_stripped_and_slack_markup_undone() -> None:
    assert plain_text(f"<@{BOT_USER_ID}>: fix a &lt; b &amp;&amp; c", BOT_USER_ID) == "fix a < b && c"
    assert plain_text(f"ask <@{BOT_USER_ID}> later", BOT_USER_ID) == f"ask <@{BOT_USER_ID}> later"
    assert plain_text("see <https://x.test/a|the docs> and <https://y.test>", BOT_USER_ID) == "see the docs and https://y.test"


def test_a_button_press_becomes_an_action_in_the_thread_of_the_plan() -> None:
    body = fake.button_click("U1", APPROVE_ACTION, "01REQ", message_ts="1700000005.000001", thread_ts="1700000001.000100")
    click = from_click(body, team="T1")
    assert click is not None and (click.action, click.request_id, click.text) == ("approve", "01REQ", "approve")
    assert click.session_key == session_key("T1", "C0FAKE", "1700000001.000100") and click.sender == "slack:U1"
    cancel = from_click(fake.button_click("U1", CANCEL_ACTION, "01REQ", message_ts="1.1"), team="T1")
    assert cancel is not None and cancel.action == "cancel" and cancel.thread_ts == "1.1"
    assert from_click(fake.button_click("U1", "something_else", "v", message_ts="1.1"), team="T1") is None


def test_the_buttons_carry_the_request_id() -> None:
    blocks = approval_blocks("the plan", "01REQ")
    assert blocks[0]["text"]["text"] == "the plan"
    assert [(e["action_id"], e["value"]) for e in blocks[1]["elements"]] == [(APPROVE_ACTION, "01REQ"), (CANCEL_ACTION, "01REQ")]


def test_the_allowlist_by_user_and_narrowed_by_channel() -> None:
    users = Allowlist(SlackChannelSettings(allowed_users=["U1"]))
    assert users.permits("U1", "C1") and users.permits("U1", "D1") and not users.permits("U2", "C1")
    narrowed = Allowlist(SlackChannelSettings(allowed_users=["U1"], allowed_channels=["C1"]))
    assert narrowed.permits("U1", "C1") and not narrowed.permits("U1", "C2") and not narrowed.permits("U2", "C1")
    everyone = Allowlist(SlackChannelSettings(allow_everyone=True, allowed_channels=["C1"]))
    assert everyone.permits("U9", "C1") and not everyone.permits("U9", "C2")


def _dm_session(thread_ts: str, status: SessionStatus, request_id: str) -> tuple[str, SessionState]:
    key = session_key("T1", "D0ALICE", thread_ts)
    request = ActiveRequest(request_id=request_id, text="x", requester="slack:U1", channel="slack", opened_at=datetime(2026, 1, 1, tzinfo=UTC))
    return key, SessionState(key=key, status=status, request=request)


@pytest.mark.parametrize(
    "text, sessions, expected",
    [
        # One plan waits: a yes, a cancel or a done goes to its thread, with its request id.
        ("yes", [("1.1", "pending_plan_approval", "R1"), ("2.2", "executing", "R2")], ("1.1", "R1", None)),
        ("done", [("1.1", "pending_plan_approval", "R1")], ("1.1", "R1", None)),
        # A cancel or a done may answer the one request open here, whatever it waits for.
        ("cancel", [("2.2", "executing", "R2"), ("3.3", "awaiting_followup", "R3")], ("2.2", "R2", None)),
        # Nothing waits, or it is no answer at all: the message starts its own thread.
        ("yes", [("2.2", "executing", "R2")], ("9.9", None, None)),
        ("also update the docs", [("1.1", "pending_plan_approval", "R1")], ("9.9", None, None)),
        # Two could be meant: nothing is guessed.
        ("yes", [("1.1", "pending_plan_approval", "R1"), ("2.2", "pending_plan_approval", "R2")],
         ("9.9", None, "2 plans wait for an answer in this conversation; answer in the thread of the one you mean.")),
    ],
)
def test_a_top_level_answer_in_a_dm_goes_to_the_thread_it_answers(
    text: str, sessions: list[tuple[str, SessionStatus, str]], expected: tuple[str, str | None, str | None],
) -> None:
    inbound = from_event(fake.message_event("U1", text, "D0ALICE", ts="9.9", channel_type="im"), team="T1", bot_user_id=BOT_USER_ID)
    assert inbound is not None
    # A session of another channel never counts.
    known = dict([_dm_session(*row) for row in sessions] + [(session_key("T1", "C0OTHER", "5.5"), _dm_session("5.5", "pending_plan_approval", "R5")[1])])
    routed, hint = answer_target(inbound, known)
    thread, request_id, told = expected
    assert (routed.session_key, routed.request_id, hint) == (session_key("T1", "D0ALICE", thread), request_id, told)
