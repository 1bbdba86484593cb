"""Ids and time, injected so that actors and projections stay deterministic.

The production sources are here (`SystemClock`, `UlidSource`); the ones tests drive by hand
(a manual clock, sequential ids) live in `tests/clocks.py`.

Event ids are ULIDs: 48 bits of milliseconds and 80 bits of entropy in Crockford base32. They sort
by time, are unique, and are safe as NATS subject tokens (`[0-9A-Z]`), so a request id can sit
inside a subject.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Clock(Protocol):
    """Where actors and projections get the time from."""

    def now(self) -> datetime: ...


class IdSource(Protocol):
    """Where actors get new ids from."""

    def new_id(self) -> str: ...


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def ulid_from(ms: int, entropy: int) -> str:
    """A ULID string from a millisecond timestamp and 80 bits of entropy."""
    return _encode(ms & ((1 << 48) - 1), 10) + _encode(entropy & ((1 << 80) - 1), 16)


def ulid_time(ulid: str) -> datetime:
    """The time encoded in the first 10 characters of a ULID."""
    ms = 0
    for char in ulid[:10]:
        ms = ms * 32 + _CROCKFORD.index(char)
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UlidSource:
    """Monotonic ULIDs: within one millisecond the entropy is incremented, so ids keep sorting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_entropy = 0

    def new_id(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                self._last_entropy += 1
            else:
                self._last_entropy = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_ms = ms
            return ulid_from(ms, self._last_entropy)


def derived_id(moment: datetime, key: str) -> str:
    """A ULID that is the same for the same (`moment`, `key`): an inbound message delivered twice
    (same Slack event, same Telegram update) gets the same id and is stored once."""
    entropy = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=10).digest(), "big")
    return ulid_from(int(moment.timestamp() * 1000), entropy)
