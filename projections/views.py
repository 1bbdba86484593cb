"""The in-memory projections the actors read: sessions and requests."""

from __future__ import annotations

from pathlib import Path

from msgspec.structs import replace

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import RequestOpened
from claude_tunnels.projections import requests as request_fold
from claude_tunnels.projections import sessions as session_fold
from claude_tunnels.projections.base import KeyedProjection
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.sessions import SessionState

KEEP_FINISHED = 100
"""Finished requests kept in memory besides the open ones (the most recently changed)."""


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
    """Every request's state, by request id (checkpointed by request: `KeyedProjection`).

    With a checkpoint file, a settled request (ended, nothing waiting on anyone: `settled`) leaves
    memory once it is stored, but for the `keep_finished` most recently changed: `get` answers for
    it from the file, and an event for it brings it back. So memory holds the open requests and a
    few recent ones, not every request ever made."""

    name = "requests"
    record_type = RequestState

    def __init__(self, checkpoint_path: Path | None = None, *, keep_finished: int | None = KEEP_FINISHED) -> None:
        super().__init__(checkpoint_path)
        self.keep_settled = keep_finished

    @property
    def requests(self) -> dict[str, RequestState]:
        """The requests in memory, by id: every open one and the most recently finished (all of
        them without a checkpoint file). `get` finds the others; `every` lists them all."""
        return self.records

    @requests.setter
    def requests(self, value: dict[str, RequestState]) -> None:
        self.records = value

    def get(self, request_id: str) -> RequestState | None:
        """The request's state, if the request exists (from the file when it left memory)."""
        return self.lookup(request_id) if request_id else None

    def _settled(self, record: RequestState) -> bool:
        return request_fold.settled(record)

    def _apply(self, seq: int, event: AnyEvent) -> None:
        request_id = getattr(event, "request_id", None)
        if request_id and not isinstance(event, RequestOpened):
            self.record(request_id)  # a request that left memory comes back for the fold
        request_fold.fold(self.records, event)
        if request_id:
            self.changed(request_id)
