"""Errors of the remote workspace agent, classified by what the caller can do about them."""

from __future__ import annotations


class AgentProcessError(Exception):
    """Base of the agent process's errors; the message says what to fix."""


class SettingsError(AgentProcessError):
    """The agent's options, config file, environment or secret files are wrong: fix and restart."""


class LinkError(AgentProcessError):
    """A NATS operation failed (disconnected, refused, timed out): retry later."""


class ConsumerMissing(LinkError):
    """The workspace's task consumer does not exist yet: the orchestrator creates it on first sight."""


class Unreachable(LinkError):
    """No NATS server answered (yet): retry later."""


class AlreadyRunning(AgentProcessError):
    """Another agent holds this workspace's state folder."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


class ConnectionClosed(LinkError):
    """The connection was closed for good (e.g. the server revoked the credentials): restart the agent."""
