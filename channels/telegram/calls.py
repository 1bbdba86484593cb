"""Bot API calls with the retries aiogram leaves to us, and errors that never carry the token.

aiogram retries nothing: a 429 raises `TelegramRetryAfter`, a dropped connection raises
`TelegramNetworkError` (chained to an aiohttp error whose text may hold the request URL, and
the URL holds the token: `/bot<token>/sendMessage`). `call` waits the `retry_after` the server
asks for, backs off after network and server errors, and gives up after a few attempts with a
`TelegramChannelError` whose message has the token masked and whose cause is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import (
    AiogramError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.utils.backoff import Backoff, BackoffConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 5
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


class TelegramChannelError(Exception):
    """A Telegram call failed for good, or the channel cannot start. `retryable`: may work later."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def redact(text: str, token: str) -> str:
    """`text` with the bot token (and anything shaped like a bot token) masked."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_LIKE.sub("***", text)


def retryable(err: BaseException) -> bool:
    """A 429, a network error (not an over-large request) or a 5xx: trying again may work."""
    if isinstance(err, TelegramEntityTooLarge):
        return False
    return isinstance(err, (TelegramRetryAfter, TelegramNetworkError, TelegramServerError))


async def call(what: str, make: Callable[[], Awaitable[T]], *, token: str, backoff: BackoffConfig) -> T:
    """Run the call `make()` builds, retrying as described above; `what` names it in logs and errors.

    Errors that retrying cannot fix (400 Bad Request, 403 ...) are re-raised as they are; callers
    that expect one (an edit that changes nothing) test for it.
    """
    delays = Backoff(backoff)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await make()
        except AiogramError as err:
            if not retryable(err):
                raise
            if attempt == MAX_ATTEMPTS:
                raise TelegramChannelError(
                    f"{what} failed {MAX_ATTEMPTS} times, last with {describe(err, token)}", retryable=True,
                ) from None  # the chained aiohttp error may show the URL, which holds the token
            delay = float(err.retry_after) if isinstance(err, TelegramRetryAfter) else next(delays)
            log.warning("telegram: %s: %s; trying again in %.1f s", what, describe(err, token), delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def describe(err: BaseException, token: str) -> str:
    """`err` in one line, without the token."""
    if isinstance(err, TelegramRetryAfter):
        return f"429 Too Many Requests (retry after {err.retry_after} s)"
    text = getattr(err, "message", None) or str(err)
    return redact(f"{type(err).__name__}: {text}".splitlines()[0], token)
