"""Errors of the NATS adapter. Only this package touches nats-py exceptions; it raises these."""

from __future__ import annotations

from claude_tunnels.events.log import AppendConflict as AppendConflict  # raised by the store; defined with the log's other types
from claude_tunnels.events.log import EventLogError


class BusError(EventLogError):
    """Base error of the event bus. `retryable` says whether trying again may help."""


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


class StreamMisconfigured(BusError):
    """The JetStream stream exists with settings this version cannot use."""


class Fenced(BusError):
    """This orchestrator is no longer the active one: another took the lease over (a higher term
    is on the stream), so its appends are refused. Not retryable: the process must stop."""
