"""Escaping and splitting for Telegram HTML, checked by the fake's strict parser and through the real aiogram."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from claude_tunnels.channels.telegram.addressing import Place
from claude_tunnels.channels.telegram.markup import MAX_UNITS, escape, split_html, to_html, utf16_units, visible
from claude_tunnels.channels.telegram.outbound import Outbox
from claude_tunnels.config.settings import TelegramChannelSettings
from tests.channels.telegram.telegram_world import ALICE, FAST
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_markup import render

NASTY = "if a < b && c > d: print(\"<b>not bold</b>\") # snake_case *stars* _under_ `tick` &amp; [x](y)"


def parts_ok(parts: list[str], original_visible: str) -> None:
    """Every part parses under strict HTML, fits, and together they show exactly the original."""
    shown = [render(part, "HTML") for part in parts]  # raises on a broken tag or entity
    assert all(0 < utf16_units(text) <= MAX_UNITS for text in shown)
    assert "".join(shown) == original_visible


def test_escaping_keeps_every_character_visible() -> None:
    html = escape(NASTY)
    assert "<" not in html.replace("&lt;", "") and render(html, "HTML") == NASTY
    # Inline code is shown as code (its backticks are markup, as in Markdown); the rest is escaped.
    assert to_html(f"Done.\n{NASTY}") == f"<b>Done.</b>\n{html.replace('`tick`', '<code>tick</code>')}"
    assert render(to_html(f"{NASTY}\nsecond"), "HTML") == f"{NASTY.replace('`', '')}\nsecond"


def test_short_text_is_one_part() -> None:
    assert split_html("<b>hi</b> &amp; bye") == ["<b>hi</b> &amp; bye"]
    assert split_html("   ") == []


def test_parts_count_utf16_units_and_never_split_a_surrogate_pair() -> None:
    text = "a" + "😀" * 2048  # 4097 units: the last emoji does not fit
    parts = split_html(escape(text))
    assert [utf16_units(visible(p)) for p in parts] == [4095, 2]
    assert parts[1] == "😀"
    parts_ok(parts, text)


def test_an_entity_is_never_cut_and_counts_as_one_unit() -> None:
    assert split_html(escape("x" * 4095 + "&")) == ["x" * 4095 + "&amp;"]
    assert split_html(escape("x" * 4096 + "<")) == ["x" * 4096, "&lt;"]


def test_tags_open_at_a_cut_are_closed_and_opened_again() -> None:
    html = "<b>" + "bold " * 1000 + "</b><i>" + escape("i<j " * 1500) + "</i>"  # 5000 + 6000 units
    parts = split_html(html)
    assert len(parts) == 3
    assert parts[0].startswith("<b>") and parts[0].endswith("</b>")
    assert parts[1].startswith("<b>bold") and "</b><i>" in parts[1] and parts[1].endswith("</i>")
    assert parts[2].startswith("<i>i&lt;j") and parts[2].endswith("</i>")
    parts_ok(parts, visible(html))


def test_cuts_prefer_line_breaks_then_spaces_and_keep_emoji_sequences_whole() -> None:
    lines = "\n".join(f"line {n:04d} " + "=" * 80 for n in range(200))
    parts = split_html(escape(lines))
    assert all(p.endswith("\n") for p in parts[:-1])
    parts_ok(parts, lines)

    family = "👨\u200d👩\u200d👧"  # one picture, five code points, eight units
    text = "y" * 4090 + family
    parts = split_html(escape(text))
    assert parts == ["y" * 4090, family]


@pytest.fixture
async def outbox() -> AsyncIterator[tuple[FakeTelegram, Outbox]]:
    """An outbox on the real aiogram Bot, talking to a strict FakeTelegram."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    async with FakeTelegram(strict_html=True) as fake:
        bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
        yield fake, Outbox(bot, TelegramChannelSettings(), token=fake.token, backoff=FAST)
        await bot.session.close()


async def test_a_long_markup_heavy_result_is_sent_and_accepted(outbox: tuple[FakeTelegram, Outbox]) -> None:
    fake, box = outbox
    body = "\n".join(f"{n}: {NASTY} 😀👍🏽 {'é' * (n % 7)}" for n in range(150))
    text = f"Done (request 01TEST).\n{body}"
    assert utf16_units(text) > 2 * MAX_UNITS

    first = await box.post(f"telegram:{ALICE}", text)
    sent = fake.messages_in(ALICE)
    assert len(sent) == len(split_html(to_html(text))) >= 4 and first == str(sent[0].message_id)
    assert all(m.parse_mode == "HTML" and utf16_units(m.text) <= MAX_UNITS for m in sent)
    # nothing lost or changed, markup characters included; the code span's backticks became <code>
    assert "".join(m.text for m in sent) == text.replace("`tick`", "tick")

    await box.edit(f"telegram:{ALICE}", first, "Request 01TEST: phase 1 of 1 (running)\n▶ a_b <c> & *d*")
    await box.edit(f"telegram:{ALICE}", first, "Request 01TEST: phase 1 of 1 (running)\n▶ a_b <c> & *d*")  # unchanged: fine
    assert sent[0].text == "Request 01TEST: phase 1 of 1 (running)\n▶ a_b <c> & *d*"
    assert len(fake.calls_to("editMessageText")) == 2


async def test_html_telegram_refuses_still_goes_out_as_plain_text(outbox: tuple[FakeTelegram, Outbox]) -> None:
    fake, box = outbox
    sent = await box._send(Place(ALICE), "<b>unclosed &amp; bare", None, None)  # never made by to_html
    assert (sent.text, fake.messages[-1].parse_mode) == ("unclosed & bare", None)
    assert [c.get("parse_mode") for c in fake.calls_to("sendMessage")] == ["HTML", None]
