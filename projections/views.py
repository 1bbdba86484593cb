"""The in-memory projections the actors read: sessions and requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from msgspec.structs import replace

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections import requests as request_fold
from claude_tunnels.projections import sessions as session_fold
from claude_tunnels.projections.base import Projection
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.sessions import SessionState


class SessionsView(Projection):
    """Every session's state machine, by session key."""

    name = "sessions"

    def __init__(self, checkpoint_path: Path | None = None) -> None:
        super().__init__(checkpoint_path)
        self.sessions: dict[str, SessionState] = {}

    def get(self, key: str) -> SessionState:
        """The session's state (idle if it never had an event)."""
        return self.sessions.get(key) or SessionState(key=key)

    def _apply(self, seq: int, event: AnyEvent) -> None:
        state = session_fold.track_replies(session_fold.evolve(self.get(event.session_key), event), seq, event)
        if event.family == "session":
            state = replace(state, last_seq=seq)
        self.sessions[event.session_key] = state

    def _state(self) -> Any:
        return self.sessions

    def _restore(self, raw: bytes) -> None:
        self.sessions = msgspec.json.decode(raw, type=dict[str, SessionState])

    def _clear(self) -> None:
        self.sessions = {}


class RequestsView(Projection):
    """Every request's state, by request id."""

    name = "requests"

    def __init__(self, checkpoint_path: Path | None = None) -> None:
        super().__init__(checkpoint_path)
        self.requests: dict[str, RequestState] = {}

    def get(self, request_id: str) -> RequestState | None:
        """The request's state, if the request exists."""
        return self.requests.get(request_id)

    def _apply(self, seq: int, event: AnyEvent) -> None:
        request_fold.fold(self.requests, event)

    def _state(self) -> Any:
        return self.requests

    def _restore(self, raw: bytes) -> None:
        self.requests = msgspec.json.decode(raw, type=dict[str, RequestState])

    def _clear(self) -> None:
        self.requests = {}
