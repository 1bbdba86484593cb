"""Which messages are for the bot, whose conversation they belong to, and who may use the bot. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from aiogram.types import Message

from claude_tunnels.channels.telegram.addressing import (
    Place,
    Press,
    Reading,
    callback_data,
    parse_callback,
    place_of,
    read_message,
    read_press,
    session_key,
)
from claude_tunnels.config.settings import TelegramChannelSettings
from claude_tunnels.projections.requests import RequestState
from tests.fakes.telegram_markup import auto_entities

BOT_ID, BOT = 123456789, "fake_test_bot"
ALICE, BOB, GROUP = 42, 43, -100777
SETTINGS = TelegramChannelSettings(enabled=True, allowed_users=[ALICE, BOB])
RID = "01M7YXXKP00000000000000001"


def message(text: str, *, user: int = ALICE, chat: int | None = None, thread: int | None = None,
            reply_to_bot: bool = False) -> Message:
    chat_id = user if chat is None else chat
    raw: dict[str, Any] = {
        "message_id": 9, "date": 1_700_000_000, "text": text, "entities": auto_entities(text),
        "from": {"id": user, "is_bot": False, "first_name": "T"},
        "chat": {"id": chat_id, "type": "private" if chat is None else "supergroup"},
    }
    if thread is not None:
        raw |= {"message_thread_id": thread, "is_topic_message": True}
    if reply_to_bot:
        raw["reply_to_message"] = {"message_id": 1, "date": 1, "chat": raw["chat"], "text": "plan",
                                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"}}
    return Message.model_validate(raw)


def read(msg: Message, settings: TelegramChannelSettings = SETTINGS) -> Reading:
    return read_message(msg, settings, username=BOT, bot_id=BOT_ID)


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (message("fix the login"), Reading("record", "fix the login", f"telegram:{ALICE}")),
        (message("/status"), Reading("record", "status", f"telegram:{ALICE}")),
        (message("/start"), Reading("help", read(message("help")).text)),
        (message("lunch, anyone?", chat=GROUP), Reading("ignore")),
        (message("/status", chat=GROUP), Reading("ignore")),  # maybe for another bot
        (message(f"@{BOT} fix  the login", chat=GROUP), Reading("record", "fix the login", f"telegram:{GROUP}:u{ALICE}")),
        (message(f"please @{BOT.upper()} go", chat=GROUP, user=BOB), Reading("record", "please go", f"telegram:{GROUP}:u{BOB}")),
        (message(f"/status@{BOT}", chat=GROUP), Reading("record", "status", f"telegram:{GROUP}:u{ALICE}")),
        (message("yes", chat=GROUP, reply_to_bot=True), Reading("record", "yes", f"telegram:{GROUP}:u{ALICE}")),
        (message(f"@{BOT} 😀 go", chat=GROUP, thread=7), Reading("record", "😀 go", f"telegram:{GROUP}:t7:u{ALICE}")),
        (message(f"@{BOT} hi", chat=GROUP, user=99), Reading("refuse", read(message("x", user=99)).text)),
        (message("hi @other_bot_x", chat=GROUP, user=99), Reading("ignore")),  # not for us: not even a refusal
    ],
)
def test_reading_messages(msg: Message, expected: Reading) -> None:
    assert read(msg) == expected


def test_refusals_name_the_id_to_allow() -> None:
    refused = read(message("hi", user=99))
    assert refused.kind == "refuse" and "99" in refused.text and "not allowed" in refused.text
    narrowed = TelegramChannelSettings(enabled=True, allowed_users=[ALICE], allowed_chats=[GROUP])
    assert read(message("hi"), narrowed).kind == "refuse"  # private chats are not listed
    assert "not enabled in this chat" in read(message("hi"), narrowed).text
    assert read(message(f"@{BOT} hi", chat=GROUP), narrowed).kind == "record"
    everyone = TelegramChannelSettings(enabled=True, allow_everyone=True)
    assert read(message("hi", user=99), everyone).kind == "record"


def test_shared_group_sessions_and_topics() -> None:
    shared = TelegramChannelSettings(enabled=True, allowed_users=[ALICE, BOB], per_user_sessions_in_groups=False)
    assert read(message(f"@{BOT} a", chat=GROUP), shared).session_key == f"telegram:{GROUP}"
    assert read(message(f"@{BOT} b", chat=GROUP, user=BOB, thread=3), shared).session_key == f"telegram:{GROUP}:t3"


def test_session_keys_give_back_their_place() -> None:
    assert place_of(session_key(ALICE)) == Place(ALICE)
    assert place_of(session_key(GROUP, user_id=BOB)) == Place(GROUP)
    assert place_of(session_key(GROUP, thread_id=7, user_id=BOB)) == Place(GROUP, 7)
    with pytest.raises(ValueError, match="not a Telegram session key"):
        place_of("slack:C1:1700000000.000100")


def test_callback_data_fits_64_bytes() -> None:
    assert parse_callback(callback_data("approve", RID, 0)) == ("approve", RID, 0)
    assert parse_callback(callback_data("cancel", RID, 12)) == ("cancel", RID, 12)
    assert len(callback_data("approve", RID, 999) or "") <= 64
    assert callback_data("approve", "x" * 60, 0) is None
    assert parse_callback("delete:everything:1") is None and parse_callback(None) is None
    assert parse_callback(f"approve:{RID}") is None  # made by an older version: no revision


def pending(**changes: Any) -> RequestState:
    base = RequestState(request_id=RID, session_key=f"telegram:{GROUP}:u{ALICE}", text="t", requester=f"telegram:{ALICE}",
                        channel="telegram", opened_at=datetime(2026, 1, 1, tzinfo=UTC), status="awaiting_approval",
                        revision=1)
    return msgspec.structs.replace(base, **changes)


@pytest.mark.parametrize(
    ("data", "user", "state", "expected"),
    [
        (f"approve:{RID}:1", ALICE, pending(), Press("Approving…", alert=False, action="approve")),
        (f"cancel:{RID}:1", ALICE, pending(), Press("Cancelling…", alert=False, action="cancel")),
        (f"approve:{RID}:1", BOB, pending(), Press(f"Only telegram:{ALICE} or an approver can answer this plan.", action="approve")),
        (f"approve:{RID}:1", 7, pending(), Press("Approving…", alert=False, action="approve")),  # an approver
        (f"approve:{RID}:0", ALICE, pending(), Press("This plan is no longer waiting for an answer.")),  # revised since
        (f"approve:{RID}:1", ALICE, pending(status="executing"), Press("This plan is no longer waiting for an answer.")),
        (f"approve:{RID}:1", ALICE, None, Press("This button no longer works; answer in the chat instead.")),
        ("garbage", ALICE, pending(), Press("This button no longer works; answer in the chat instead.")),
    ],
)
def test_reading_button_presses(data: str, user: int, state: RequestState | None, expected: Press) -> None:
    settings = TelegramChannelSettings(enabled=True, allowed_users=[ALICE, BOB, 7])
    assert read_press(data, user, GROUP, state, settings, ["telegram:7"]) == expected


def test_presses_by_strangers_are_refused_before_anything_else() -> None:
    press = read_press(f"approve:{RID}:1", 99, GROUP, pending(), SETTINGS, ["telegram:99"])
    assert press.action is None and "not allowed" in press.answer
