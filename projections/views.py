"""The in-memory projections the actors read: sessions and requests."""

from __future__ import annotations

from msgspec.structs import replace

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections import requests as request_fold
from claude_tunnels.projections import sessions as session_fold
from claude_tunnels.projections.base import KeyedProjection
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.sessions import SessionState


class SessionsView(KeyedProjection[SessionState]):
    """Every session's state machine, by session key (checkpointed by session: `KeyedProjection`)."""

    name = "sessions"
    record_type = SessionState

    @property
    def sessions(self) -> dict[str, SessionState]:
        """Every session's state, by key."""
        return self.records

    def get(self, key: str) -> SessionState:
        """The session's state (idle if it never had an event)."""
        return self.records.get(key) or SessionState(key=key)

    def _apply(self, seq: int, event: AnyEvent) -> None:
        state = session_fold.track_replies(session_fold.evolve(self.get(event.session_key), event), seq, event)
        if event.family == "session":
            state = replace(state, last_seq=seq)
        self.records[event.session_key] = state
        self.changed(event.session_key)


class RequestsView(KeyedProjection[RequestState]):
    """Every request's state, by request id (checkpointed by request: `KeyedProjection`)."""

    name = "requests"
    record_type = RequestState

    @property
    def requests(self) -> dict[str, RequestState]:
        """Every request's state, by id."""
        return self.records

    @requests.setter
    def requests(self, value: dict[str, RequestState]) -> None:
        self.records = value

    def get(self, request_id: str) -> RequestState | None:
        """The request's state, if the request exists."""
        return self.records.get(request_id)

    def _apply(self, seq: int, event: AnyEvent) -> None:
        request_fold.fold(self.records, event)
        request_id = getattr(event, "request_id", None)
        if request_id:
            self.changed(request_id)
