"""People by their names: a qualified user id in a reply (`slack:U0ALICE`) becomes the display
name the platform gives (`Alice`), cached; an id with no known name is shown as it is.

A channel learns names as people write (Telegram sends the sender's names with each message)
or asks the platform once per person (Slack's `users.info`); a failed lookup is remembered too,
so a missing scope costs one call per person, not one per message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

_IDS = {
    "slack": re.compile(r"\bslack:([UW][A-Z0-9]{2,})\b"),
    "telegram": re.compile(r"\btelegram:([0-9]{1,20})\b"),
}
MAX_KNOWN = 10_000
"""Names kept per channel; past that the cache starts again (a rare lookup more, no unbounded growth)."""

Lookup = Callable[[str], Awaitable[str | None]]


class DisplayNames:
    """The display names of one channel's people."""

    def __init__(self, channel: str, lookup: Lookup | None = None) -> None:
        self._pattern = _IDS[channel]
        self._channel = channel
        self._lookup = lookup
        self._known: dict[str, str | None] = {}  # user id -> name, or None: asked, no name

    def learn(self, user_id: str, name: str) -> None:
        """Remember `name` for `user_id` (as the platform gave it with a message)."""
        if len(self._known) >= MAX_KNOWN:
            self._known.clear()
        self._known[user_id] = " ".join(name.split()) or None

    def name(self, user_id: str) -> str | None:
        """The known name of `user_id`, or None."""
        return self._known.get(user_id)

    async def resolve(self, text: str) -> None:
        """Ask the platform for the names of the people `text` mentions that are not known yet."""
        if self._lookup is None:
            return
        for user_id in dict.fromkeys(self._pattern.findall(text)):
            if user_id in self._known:
                continue
            try:
                found = await self._lookup(user_id)
            except Exception as err:  # a name is a nicety: the id is shown instead
                log.info("%s: no display name for %s (%s)", self._channel, user_id, err)
                found = None
            self.learn(user_id, found or "")

    def shown(self, text: str) -> str:
        """`text` with each qualified id of this channel replaced by its name, when known."""
        return self._pattern.sub(lambda match: self._known.get(match.group(1)) or match.group(0), text)

    async def named(self, text: str) -> str:
        """`resolve`, then `shown`."""
        await self.resolve(text)
        return self.shown(text)
