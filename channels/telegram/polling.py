"""Long polling: who the bot is (getMe, retried until Telegram answers), and the getUpdates loop.

Nothing a person sends is lost: an update is confirmed only after it is recorded. Telegram forgets
update N when a later getUpdates carries an offset above N. `poll` sends that offset only after
`handle(N)` returned, and the channel's `handle` returns only once the message is on the event
stream (it retries while the store is unreachable). Updates are handled one after another, which is
cheap: handling only records an event (the work happens in the orchestrator, and replies go
through per-conversation outboxes), so one long request never holds up another chat. A crash
between recording and confirming leaves the update unconfirmed; Telegram delivers it again, and its
event id (derived from the chat, the message id and the message's date) makes the store keep one.

This is our own loop rather than aiogram's `Dispatcher.start_polling`: with `handle_as_tasks=True`
that one confirms updates whose handlers are still running; with `False` it still confirms an update
whose handler raised; it stops for good when getMe fails at startup; and it logs getUpdates errors
verbatim, whose text can hold the request URL, which holds the token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import AiogramError, TelegramUnauthorizedError
from aiogram.types import Update, User
from aiogram.utils.backoff import Backoff, BackoffConfig

from claude_tunnels.channels.telegram.calls import TelegramChannelError, describe, retryable

log = logging.getLogger(__name__)

UPDATE_TYPES = ["message", "callback_query"]
"""What the bot asks Telegram for (Telegram keeps back everything else)."""


def _refused_token() -> TelegramChannelError:
    return TelegramChannelError(
        "Telegram refused the bot token (401 Unauthorized); put the token @BotFather gave you in "
        "ARCHIVE/telegram/credentials as `bot_token : <token>` or set TELEGRAM_BOT_TOKEN"
    )


async def who_am_i(bot: Bot, *, backoff: BackoffConfig, token: str, patient: bool = True) -> User | None:
    """The bot's own user (getMe). While Telegram cannot be reached it is retried with backoff, or,
    when not `patient`, None is returned. A refused token raises `TelegramChannelError`."""
    delays = Backoff(backoff)
    while True:
        try:
            return await bot.me()
        except TelegramUnauthorizedError:
            raise _refused_token() from None
        except AiogramError as err:
            if not retryable(err):
                raise TelegramChannelError(f"getMe failed: {describe(err, token)}") from None
            log.warning("telegram: getMe failed (%s); trying again in %.1f s", describe(err, token), delays.next_delay)
            if not patient:
                return None
            await delays.asleep()


async def poll(
    bot: Bot, handle: Callable[[Update], Awaitable[None]], *, timeout: int, backoff: BackoffConfig, token: str,
) -> None:
    """Fetch updates forever and hand each to `handle`, confirming it only after `handle` returned.

    Network and server errors, 429s and 409s (another instance polls the same bot) are retried
    with backoff; a refused token ends the loop with `TelegramChannelError`.
    """
    delays = Backoff(backoff)
    offset: int | None = None
    # The HTTP request must outlive the long poll, or every quiet poll would end as a timeout.
    request_timeout = int(bot.session.timeout + timeout)
    failing = False
    while True:
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=timeout, allowed_updates=UPDATE_TYPES, request_timeout=request_timeout,
            )
        except TelegramUnauthorizedError:
            raise _refused_token() from None
        except AiogramError as err:
            failing = True
            log.warning("telegram: getUpdates failed (%s); trying again in %.1f s", describe(err, token), delays.next_delay)
            await delays.asleep()
            continue
        if failing:
            log.info("telegram: getUpdates works again")
            failing = False
            delays.reset()
        for update in updates:
            await handle(update)
            offset = update.update_id + 1  # sent with the next getUpdates, which confirms the update
