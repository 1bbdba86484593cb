"""What a Slack event or click means (pure functions): thread keys, refs, text, the allowlist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claude_tunnels.channels.slack.blocks import APPROVE_ACTION, CANCEL_ACTION, approval_blocks
from claude_tunnels.channels.slack.inbound import Allowlist, from_click, from_event, parse_session_key, plain_text, session_key
from claude_tunnels.config.settings import SlackChannelSettings
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
