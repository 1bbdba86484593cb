"""Errors of the NATS adapter. Only this package touches nats-py exceptions; it raises these."""

from __future__ import annotations


class BusError(Exception):
    """Base error of the event bus. `retryable` says whether trying again may help."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerBinaryMissing(BusError):
    """The nats-server executable could not be found."""


class ServerStartFailed(BusError):
    """The embedded nats-server did not become ready."""


class StoreLocked(BusError):
    """Another tunnels process owns this root's embedded server and store."""


class NotReachable(BusError):
    """No NATS server answered at the configured address."""

    retryable = True


class LoginRefused(NotReachable):
    """The server answered but refused our credentials (trying again will not help)."""

    retryable = False


class BusTimeout(BusError):
    """NATS did not answer in time."""

    retryable = True


class AppendConflict(BusError):
    """Another writer extended the session first: re-read the session and decide again."""

    retryable = True

    def __init__(self, session_key: str, expected: int, message: str) -> None:
        super().__init__(message)
        self.session_key = session_key
        self.expected = expected


class StreamMisconfigured(BusError):
    """The JetStream stream exists with settings this version cannot use."""
