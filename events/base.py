"""The base of every event: the envelope every fact carries.

Schema-evolution rule: an event's tag never changes meaning; a new field gets a default; a field
is never removed or retyped in place. When an old shape must change, bump `SCHEMA_VERSION` and
register an upcaster (`events.upcasting`) that rewrites the old JSON into the new shape on read.
Old streams are upgraded when read, never rewritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Family = Literal["session", "request"]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """A fact that happened. Past tense, immutable, never holds a secret.

    `id` is a ULID (sortable, unique; it is also the JetStream `Nats-Msg-Id`, so an append is
    idempotent); `at` comes from the injected clock; `session_key` names the conversation the
    fact belongs to; `causation_id` is the id of the event this one reacts to.
    """

    family: ClassVar[Family]

    id: str
    at: datetime
    session_key: str
    causation_id: str | None = None

    @property
    def type(self) -> str:
        """The event's tag, e.g. `"request.opened"`."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]


class SessionEvent(Event, frozen=True, kw_only=True):
    """A fact of the conversation itself (stored under the session's subjects).

    Only these extend a session, so only these are guarded by the session's expected sequence.
    """

    family: ClassVar[Family] = "session"
    request_id: str | None = None


class RequestEvent(Event, frozen=True, kw_only=True):
    """A fact of one request's life: routing, planning, execution (stored under the request)."""

    family: ClassVar[Family] = "request"
    request_id: str
