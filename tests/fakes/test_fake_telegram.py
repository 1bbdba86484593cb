"""The real aiogram 3 (Bot + Dispatcher long polling) against FakeTelegram: no mocks, no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.backoff import BackoffConfig
from aiogram.utils.text_decorations import html_decoration

from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_markup import TelegramRefusal, render

CHAT = 5550001
FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.0)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """A running FakeTelegram."""
    async with FakeTelegram() as fake:
        yield fake


def make_bot(tg: FakeTelegram, token: str | None = None) -> Bot:
    """A Bot whose session talks to the fake."""
    return Bot(token=token or tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    """A Bot for direct API calls (no polling)."""
    bot = make_bot(tg)
    yield bot
    await bot.session.close()


def build_router() -> Router:
    """Echo text as a reply; `/menu` shows a button; a click answers the query and edits the menu."""
    router = Router()

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        button = InlineKeyboardButton(text="Approve", callback_data="approve:42")
        await message.answer("Deploy?", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.reply(f"echo: {message.text}")

    @router.callback_query(F.data.startswith("approve:"))
    async def approve(query: CallbackQuery) -> None:
        await query.answer("noted")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"approved {query.data}")

    return router


@pytest.fixture
async def polling(tg: FakeTelegram) -> AsyncIterator[Dispatcher]:
    """The dispatcher long-polling the fake (polling_timeout=1, fast backoff)."""
    dp = Dispatcher()
    dp.include_router(build_router())
    task = asyncio.create_task(
        dp.start_polling(make_bot(tg), polling_timeout=1, handle_signals=False, backoff_config=FAST_BACKOFF)
    )
    await tg.wait_for(lambda: bool(tg.calls_to("getUpdates")))
    yield dp
    await dp.stop_polling()
    await task


async def test_pushed_message_is_answered(tg: FakeTelegram, polling: Dispatcher) -> None:
    await tg.push_message(CHAT, CHAT, "hello bot")

    reply = await tg.wait_for_message(lambda m: m.text == "echo: hello bot")
    assert (reply.chat_id, reply.reply_to_message_id) == (CHAT, 1)
    assert tg.messages_in(CHAT) == [reply]
    assert tg.calls_to("getMe")  # start_polling asks who it is first
    assert sorted(tg.allowed_updates) == ["callback_query", "message"]  # derived from the registered handlers


async def test_offsets_advance_as_updates_are_confirmed(tg: FakeTelegram, polling: Dispatcher) -> None:
    first = await tg.push_message(CHAT, CHAT, "one")
    await tg.wait_for_confirmed(first)
    second = await tg.push_message(CHAT, CHAT, "two")
    await tg.wait_for_confirmed(second)

    assert tg.offsets == [first + 1, second + 1]
    await tg.wait_for_message(lambda m: m.text == "echo: two")


async def test_callback_query_reaches_the_callback_handler(tg: FakeTelegram, polling: Dispatcher) -> None:
    await tg.push_message(CHAT, CHAT, "/menu")
    menu = await tg.wait_for_message(lambda m: m.text == "Deploy?")
    assert menu.reply_markup is not None
    assert menu.reply_markup["inline_keyboard"][0][0]["callback_data"] == "approve:42"

    await tg.push_callback(CHAT, CHAT, menu.message_id, "approve:42")
    edited = await tg.wait_for_message(lambda m: m.message_id == menu.message_id and m.text.startswith("approved"))
    assert edited.text == "approved approve:42"
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    await tg.wait_for(lambda: bool(tg.callback_answers))
    assert tg.callback_answers[0]["text"] == "noted"


async def test_html_is_validated_like_the_real_server(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as bare:
        await bot.send_message(CHAT, "1 < 2", parse_mode="HTML")
    assert bare.value.message == 'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2'
    with pytest.raises(TelegramBadRequest, match="Can't find end tag corresponding to start tag \"b\""):
        await bot.send_message(CHAT, "<b>bold", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Unsupported start tag \"br\""):
        await bot.send_message(CHAT, "a<br>b", parse_mode="HTML")

    sent = await bot.send_message(CHAT, f"<b>{html_decoration.quote('1 < 2 & 3 > 0')}</b>", parse_mode="HTML")
    assert sent.text == tg.messages[-1].text == "1 < 2 & 3 > 0"


async def test_markdown_v2_reserved_characters_must_be_escaped(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(CHAT, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(TelegramBadRequest, match="Can't find end of Bold entity at byte offset 0"):
        await bot.send_message(CHAT, "*bold", parse_mode="MarkdownV2")

    await bot.send_message(CHAT, "*Done* \\(v1\\.2\\) [docs](https://x.test/a_(b\\))", parse_mode="MarkdownV2")
    assert tg.messages[-1].text == "Done (v1.2) docs"


async def test_length_is_counted_in_utf16_units_after_parsing(tg: FakeTelegram, bot: Bot) -> None:
    for too_long in ("a" * 4097, "😀" * 2048 + "a"):
        with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long$"):
            await bot.send_message(CHAT, too_long)
    await bot.send_message(CHAT, "a" * 4096)
    await bot.send_message(CHAT, "😀" * 2048)
    await bot.send_message(CHAT, f"<b>{'a' * 4096}</b>", parse_mode="HTML")
    assert len(tg.messages) == 3
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(CHAT, "<b></b>", parse_mode="HTML")


async def test_edit_checks(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "v1")
    await bot.edit_message_text("v2", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("v2", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("v3", chat_id=CHAT, message_id=999)
    assert (tg.messages[0].text, tg.messages[0].history) == ("v2", ["v1"])
    assert await bot.delete_message(CHAT, sent.message_id)
    assert tg.messages[0].deleted


async def test_rate_limit_surfaces_as_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_fault("sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as limited:
        await bot.send_message(CHAT, "hi")
    assert limited.value.retry_after == 3
    await bot.send_message(CHAT, "hi")  # the fault was for one call only


async def test_tokens_are_checked(tg: FakeTelegram) -> None:
    stranger = make_bot(tg, token="987654321:AAUnknownToken")
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()
    await stranger.session.close()
    async with aiohttp.ClientSession() as http, http.post(f"{tg.base_url}/botnot-a-token/getMe") as response:
        assert response.status == 404


async def test_second_poll_terminates_the_first_with_conflict(tg: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: len(tg.calls_to("getUpdates")) == 1)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError):
        await first


async def test_polling_recovers_after_a_network_outage(tg: FakeTelegram, polling: Dispatcher) -> None:
    await tg.push_message(CHAT, CHAT, "before")
    await tg.wait_for_message(lambda m: m.text == "echo: before")

    await tg.network_down()
    await tg.wait_for(lambda: tg.dropped >= 3)  # the long poll was cut and retries keep failing
    await tg.network_up()
    await tg.push_message(CHAT, CHAT, "after")
    await tg.wait_for_message(lambda m: m.text == "echo: after")


async def test_pushed_updates_carry_entities_threads_and_replies(tg: FakeTelegram, bot: Bot) -> None:
    group = -1001234567890
    await bot.send_message(group, "topic opened", message_thread_id=7)
    await tg.push_message(group, 42, "hey @fake_test_bot /status", chat_type="supergroup", message_thread_id=7,
                          reply_to_bot=True)

    (update,) = await bot.get_updates(timeout=0)
    message = update.message
    assert message is not None and message.text is not None and message.entities is not None
    assert [(e.type, e.extract_from(message.text)) for e in message.entities] == [
        ("mention", "@fake_test_bot"), ("bot_command", "/status")]
    assert (message.chat.type, message.message_thread_id, message.is_topic_message) == ("supergroup", 7, True)
    assert message.reply_to_message is not None and message.reply_to_message.text == "topic opened"


async def test_allowed_updates_filter_delivery(tg: FakeTelegram, bot: Bot) -> None:
    chat = {"id": CHAT, "type": "private"}
    edited = await tg.push_update({"edited_message": {"message_id": 1, "date": 1, "chat": chat, "text": "fixed typo"}})
    assert await bot.get_updates(timeout=0, allowed_updates=["message"]) == []
    assert [u.update_id for u in await bot.get_updates(timeout=0, allowed_updates=[])] == [edited]
    assert await bot.get_updates(offset=edited + 1, timeout=0) == []
    assert tg.offsets == [edited + 1]


@pytest.mark.parametrize(
    ("text", "parse_mode", "expected"),
    [
        ("a &amp; b &lt;c&gt; &#128512;", "HTML", "a & b <c> 😀"),
        ('<a href="https://x.test/?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler>', "html", "link s"),
        ('<pre><code class="language-python">x = 1</code></pre>', "HTML", "x = 1"),
        ("a & b", "HTML", "!Unsupported HTML entity at byte offset 2; escape '&' as '&amp;'"),
        ("</b>", "HTML", "!Unexpected end tag at byte offset 0"),
        ("<b>x</i>", "HTML", '!Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("é <x>", "HTML", '!Unsupported start tag "x" at byte offset 3'),
        ("`code . inside` ||spoiler|| __u__ ~s~", "MarkdownV2", "code . inside spoiler u s"),
        (">quoted\nplain", "MarkdownV2", "quoted\nplain"),
        ("```python\nprint(1)\n```", "MarkdownV2", "print(1)\n"),
        ("a_b", "MarkdownV2", "!Can't find end of Italic entity at byte offset 1"),
        ("1+1", "MarkdownV2", "!Character '+' is reserved and must be escaped with the preceding '\\'"),
        ("*bold", "Markdown", "!Can't find end of the entity starting at byte offset 0"),
        ("1 < 2", None, "1 < 2"),
    ],
)
def test_text_rendering_table(text: str, parse_mode: str | None, expected: str) -> None:
    if expected.startswith("!"):
        with pytest.raises(TelegramRefusal) as refused:
            render(text, parse_mode)
        assert refused.value.description == f"Bad Request: can't parse entities: {expected[1:]}"
    else:
        assert render(text, parse_mode) == expected
