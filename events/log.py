"""What the event log hands back, whatever stores it: a stored event, an append's outcome, its errors.

The log itself is a port (`actors.ports.EventLog`, `projections.source.EventSource`); NATS
JetStream is its adapter (`tunnels.bus`), whose errors are `EventLogError`s.
"""

from __future__ import annotations

from dataclasses import dataclass

from claude_tunnels.events.catalogue import AnyEvent


@dataclass(frozen=True, slots=True)
class Stored:
    """An event as stored: its stream sequence, subject and decoded value."""

    seq: int
    subject: str
    event: AnyEvent


@dataclass(frozen=True, slots=True)
class Appended:
    """The result of an append: the stream sequence, and whether it was already stored."""

    seq: int
    duplicate: bool


class EventLogError(Exception):
    """The event log could not do what was asked (unreachable, refused). `retryable` says whether
    trying again may help; `message` is one line for a person."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AppendConflict(EventLogError):
    """Another writer extended the session first: re-read the session and decide again."""

    retryable = True

    def __init__(self, session_key: str, expected: int, message: str) -> None:
        super().__init__(message)
        self.session_key = session_key
        self.expected = expected
