"""Who gets in, what is recorded, and a redelivered update: the real aiogram against FakeTelegram."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from claude_tunnels.channels.telegram import TelegramChannel, TelegramChannelError
from claude_tunnels.config.credentials import write_credentials
from claude_tunnels.events.conversation import MessageReceived, NoticeIssued
from tests.channels.telegram.telegram_world import ALICE, BOB, GROUP, MALLORY, telegram_world
from tests.fakes.telegram import BOT_USERNAME


async def test_strangers_are_refused_and_group_chatter_is_ignored(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as w:
        fake = w.fake
        await fake.push_message(MALLORY, MALLORY, "delete everything")
        await fake.push_message(GROUP, ALICE, "lunch, anyone?", chat_type="supergroup")
        await fake.push_message(GROUP, MALLORY, f"@{BOT_USERNAME} delete everything", chat_type="supergroup")
        asked = await fake.push_message(GROUP, BOB, f"@{BOT_USERNAME} status", chat_type="supergroup")

        refusal = await fake.wait_for_message(lambda m: m.chat_id == MALLORY)
        assert "not allowed" in refusal.text and str(MALLORY) in refusal.text
        answer = await fake.wait_for_message(lambda m: m.chat_id == GROUP and "not allowed" not in m.text)
        await fake.wait_for_confirmed(asked)

        # Updates are handled in order: by now the stranger's and the chatter's were too. Only Bob's is recorded.
        received = await w.stored(MessageReceived)
        assert [(r.sender, r.text, r.session_key) for r in received] == [
            (f"telegram:{BOB}", "status", f"telegram:{GROUP}:u{BOB}")]
        assert answer.reply_to_message_id == 3  # the bot answers Bob's message in the group
        group_refusal = await fake.wait_for_message(lambda m: m.chat_id == GROUP and "not allowed" in m.text)
        assert group_refusal.reply_to_message_id == 2
        notices = await w.stored(NoticeIssued)
        assert [n.session_key for n in notices] == [f"telegram:{GROUP}:u{BOB}"]


async def test_a_redelivered_update_is_recorded_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with telegram_world(tmp_path) as w:
        fake = w.fake
        raw = {"message": {"message_id": 1000, "date": 1_700_000_500, "text": "status",
                           "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
                           "chat": {"id": ALICE, "type": "private", "first_name": "Alice"}}}
        first = await fake.push_update(raw)
        await fake.wait_for_message(lambda m: m.chat_id == ALICE)
        await fake.wait_for_confirmed(first)
        assert await fake.push_update(dict(raw)) == first  # Telegram sends the same update again
        later = await fake.push_message(ALICE, ALICE, "status")
        await fake.wait_for(lambda: len(fake.messages_in(ALICE)) == 2)  # the answer to the later message
        await fake.wait_for_confirmed(later)

        received = await w.stored(MessageReceived)
        assert [r.message_ref for r in received] == [f"{ALICE}:1000", f"{ALICE}:2"]
        assert received[0].at.timestamp() == 1_700_000_500  # the message's own date: the same on every delivery
        assert len(fake.messages_in(ALICE)) == 2
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]  # handled, not skipped


async def test_the_token_comes_from_the_archive_or_the_environment(tmp_path: Path) -> None:
    async with telegram_world(tmp_path, start=False) as w:
        loaded = w.orchestrator.loaded
        write_credentials(loaded.archive_dir / "telegram" / "credentials", {"bot_token": w.fake.token})
        from_file = TelegramChannel.from_settings(loaded, w.orchestrator, env={})
        from_env = TelegramChannel.from_settings(loaded, w.orchestrator, env={"TELEGRAM_BOT_TOKEN": "987654321:AAOther"})
        assert (from_file.bot.token, from_env.bot.token) == (w.fake.token, "987654321:AAOther")
        await from_file.stop()

        # A token Telegram does not know: start() fails at once, naming the fix but not the token.
        with pytest.raises(TelegramChannelError, match="refused the bot token") as refused:
            await from_env.start()
        assert "AAOther" not in str(refused.value)
        await from_env.stop()
        with pytest.raises(TelegramChannelError, match="malformed"):
            TelegramChannel(w.orchestrator, loaded.settings.channels.telegram, token="not a token", approvers=[])
