"""The event catalogue: frozen, tagged msgspec structs, their subjects and codec.

Import event types from their modules (`events.conversation`, `events.planning`,
`events.execution`, `events.changes`); this package exports the base and the unions.
"""

from claude_tunnels.events.base import Event, RequestEvent, SessionEvent
from claude_tunnels.events.catalogue import ALL_EVENT_TYPES, BY_TAG, AnyEvent
from claude_tunnels.events.codec import EVENTS, EventDecodeError, encode
from claude_tunnels.events.subjects import Subjects

__all__ = [
    "ALL_EVENT_TYPES",
    "AnyEvent",
    "BY_TAG",
    "EVENTS",
    "Event",
    "EventDecodeError",
    "RequestEvent",
    "SessionEvent",
    "Subjects",
    "encode",
]
