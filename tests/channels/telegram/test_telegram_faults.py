"""Rate limits and a network that goes away: nothing is lost, and the token is never written anywhere."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from claude_tunnels.events.codec import encode
from claude_tunnels.events.conversation import MessageReceived
from tests.channels.telegram.telegram_world import ALICE, telegram_world


async def test_a_429_is_retried_after_the_wait_the_server_asks_for(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as w:
        fake = w.fake
        fake.add_fault("sendMessage", status=429, retry_after=1)
        await fake.push_message(ALICE, ALICE, "status")
        await fake.wait_for(lambda: len(fake.calls_to("sendMessage")) == 1)
        loop = asyncio.get_running_loop()
        refused_at = loop.time()

        answer = await fake.wait_for_message(lambda m: m.chat_id == ALICE)
        assert loop.time() - refused_at >= 0.9  # it waited for retry_after
        assert answer.text == "Nothing is running. Send a request to start."
        assert [c["text"] for c in fake.calls_to("sendMessage")] == [answer.raw_text] * 2


async def test_polling_survives_the_network_going_away(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with telegram_world(tmp_path, start=False) as w:
        fake = w.fake
        # Down at startup: start() does not wait for it, and getMe is retried in the background
        # (aiogram's own start_polling would give up).
        await fake.network_down()
        await w.channel.start()
        await fake.wait_for(lambda: fake.dropped >= 3)
        assert w.channel.me is None
        await fake.network_up()

        await fake.push_message(ALICE, ALICE, "status")
        await fake.wait_for(lambda: len(fake.messages_in(ALICE)) == 1)

        # Down while polling: the long poll is cut, retries fail, then it comes back.
        dropped = fake.dropped
        await fake.network_down()
        await fake.wait_for(lambda: fake.dropped >= dropped + 3)
        await fake.network_up()
        confirmed = await fake.push_message(ALICE, ALICE, "status")
        await fake.wait_for(lambda: len(fake.messages_in(ALICE)) == 2)
        await fake.wait_for_confirmed(confirmed)

        received = await w.stored(MessageReceived)
        assert [r.message_ref for r in received] == [f"{ALICE}:1", f"{ALICE}:3"]
        stored = b"".join(encode(s.event) for s in await w.orchestrator.store.read())

    secret = fake.token.split(":", 1)[1]
    assert [r for r in caplog.records if "getUpdates failed" in r.getMessage()], "the outage was logged"
    assert secret not in caplog.text and secret.encode() not in stored
