"""The dashboard's view: a pure fold of the stream into what the web pages and `/metrics` show.

Memory stays bounded by the number of requests, not by their size: every request keeps one
small summary row (`RequestRow`); only the requests still open keep their full state (the
request fold of `projections.requests`) and their last progress lines. A finished request's
detail is folded again from its own events when someone opens its page (`detail_of`).
Counters for `/metrics` (tasks and requests by outcome, their durations, cost) go up as the
events arrive. Nothing is checkpointed: it is rebuilt from the stream when the dashboard starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec
from msgspec.structs import replace

from claude_tunnels.events.catalogue import REQUEST_ENDED, TASK_ENDED, AnyEvent
from claude_tunnels.events.conversation import MessageQueued, RequestOpened
from claude_tunnels.events.execution import WorkspaceProgress
from claude_tunnels.events.planning import ClarificationNeeded
from claude_tunnels.projections import requests as request_fold
from claude_tunnels.projections.base import Projection
from claude_tunnels.projections.requests import REQUEST_OPEN, TASK_ACTIVE, RequestState

TEXT_CHARS = 200
"""How much of a request's text its summary row keeps."""
PROGRESS_LINES = 20
"""Progress lines kept per task of an open request (the latest)."""


class RequestRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the requests page: what a request is and how it stands."""

    request_id: str
    session_key: str
    text: str
    requester: str
    channel: str
    opened_at: datetime
    status: str = "routing"
    projects: list[str] = []
    ended_at: datetime | None = None
    cost_usd: float = 0.0
    tasks: int = 0
    tasks_done: int = 0
    approved_by: str = ""
    parent: str = ""
    """The parent orchestrator and its request whose task this one runs (a child orchestrator's request)."""


class Outcomes(msgspec.Struct, kw_only=True):
    """Counts and summed durations by outcome (a Prometheus summary without quantiles)."""

    count: dict[str, int] = {}
    seconds: dict[str, float] = {}

    def add(self, outcome: str, seconds: float | None) -> None:
        """Count one `outcome`, of `seconds` when known."""
        self.count[outcome] = self.count.get(outcome, 0) + 1
        if seconds is not None:
            self.seconds[outcome] = self.seconds.get(outcome, 0.0) + max(0.0, seconds)


def row_of(state: RequestState) -> RequestRow:
    """The summary row of a request's full state."""
    ended = [t for t in state.tasks.values() if t.status not in ("pending", *TASK_ACTIVE)]
    parent = f"{state.delegation.parent} {state.delegation.request_id}" if state.delegation is not None else ""
    return RequestRow(
        request_id=state.request_id, session_key=state.session_key, text=state.text[:TEXT_CHARS], requester=state.requester,
        channel=state.channel, opened_at=state.opened_at, status=state.status, projects=list(state.projects),
        ended_at=state.ended_at, cost_usd=state.usage.cost_usd, tasks=len(state.tasks), tasks_done=len(ended),
        approved_by=state.approved_by, parent=parent,
    )


class DashboardView(Projection):
    """Every request's row, the open requests in full, and the counters of `/metrics`."""

    name = "dashboard"

    def __init__(self) -> None:
        super().__init__(None)
        self._clear()

    def _clear(self) -> None:
        self.rows: dict[str, RequestRow] = {}
        self.open: dict[str, RequestState] = {}
        self.progress: dict[str, dict[str, list[str]]] = {}
        """Per open request, per task key: its latest progress lines."""
        self.tasks = Outcomes()
        self.requests = Outcomes()
        self.cost_by_project_day: dict[tuple[str, str], float] = {}
        self.queued: dict[str, set[str]] = {}
        """Per session: the messages waiting for the running request to end."""

    def _apply(self, seq: int, event: AnyEvent) -> None:
        request_id = getattr(event, "request_id", None) or ""
        if isinstance(event, RequestOpened):
            if request_id and request_id not in self.rows:
                opened = request_fold.open_request(event)
                self.open[request_id] = opened
                self.rows[request_id] = row_of(opened)
            self._dequeue(event.session_key, event.message_id)
            return
        if isinstance(event, MessageQueued):
            self.queued.setdefault(event.session_key, set()).add(event.message_id)
            return
        before = self.open.get(request_id)
        if before is None:
            return  # a request that ended (late events change no summary) or that this stream never opened
        state = request_fold.evolve(before, event)
        self._count(before, state, event)
        if isinstance(event, WorkspaceProgress) and event.detail:
            key = request_fold.task_key(state, event.task_id, event.workspace)
            lines = self.progress.setdefault(request_id, {}).setdefault(key, [])
            lines.append(event.detail)
            del lines[:-PROGRESS_LINES]
        self.rows[request_id] = row_of(state)
        if state.status in REQUEST_OPEN:
            self.open[request_id] = state
        else:
            del self.open[request_id]
            self.progress.pop(request_id, None)

    def _count(self, before: RequestState, after: RequestState, event: AnyEvent) -> None:
        if isinstance(event, TASK_ENDED):
            task_id: str = getattr(event, "task_id", "")
            workspace: str = getattr(event, "workspace", "")
            task = after.tasks.get(request_fold.task_key(after, task_id, workspace))
            if task is not None:
                started = task.started_at
                self.tasks.add(task.status, (event.at - started).total_seconds() if started else None)
            usage = getattr(event, "usage", None)
            if usage is not None and usage.cost_usd:
                where = (workspace.partition("/")[0], event.at.date().isoformat())
                self.cost_by_project_day[where] = self.cost_by_project_day.get(where, 0.0) + usage.cost_usd
        if isinstance(event, (*REQUEST_ENDED, ClarificationNeeded)) and before.status != after.status:
            self.requests.add(after.status, (event.at - after.opened_at).total_seconds())

    def _dequeue(self, session_key: str, message_id: str) -> None:
        waiting = self.queued.get(session_key)
        if waiting is not None:
            waiting.discard(message_id)
            if not waiting:
                del self.queued[session_key]

    # -- what the pages and /metrics read ------------------------------------------------

    def running_tasks(self) -> int:
        """Tasks dispatched or running now."""
        return sum(1 for state in self.open.values() for task in state.tasks.values() if task.status in TASK_ACTIVE)

    def queued_messages(self) -> int:
        """Messages waiting in their conversations for the running request to end."""
        return sum(len(waiting) for waiting in self.queued.values())

    def by_status(self) -> dict[str, int]:
        """How many requests stand in each status."""
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    def rows_matching(self, *, status: str = "", query: str = "", limit: int = 200) -> list[RequestRow]:
        """The newest rows first, of `status` (empty: any) whose text, id, requester or projects contain `query`."""
        needle = query.lower().strip()
        found = []
        for row in reversed(self.rows.values()):  # opened order: newest last
            if status and row.status != status:
                continue
            if needle and needle not in f"{row.request_id} {row.text} {row.requester} {' '.join(row.projects)}".lower():
                continue
            found.append(row)
            if len(found) >= limit:
                break
        return found

    # A rebuilt projection: nothing persisted.
    def _state(self) -> Any:
        return None

    def _restore(self, raw: bytes) -> None:
        self._clear()


def detail_of(row: RequestRow, events: Iterable[AnyEvent]) -> tuple[RequestState, dict[str, list[str]]]:
    """A request's full state and its tasks' last progress lines, folded from its own events
    (for a request that ended: the view keeps only its row)."""
    state: RequestState | None = None
    progress: dict[str, list[str]] = {}
    for event in events:
        if isinstance(event, RequestOpened):
            if state is None and event.request_id == row.request_id:
                state = request_fold.open_request(event)
            continue
        if state is None:
            state = RequestState(
                request_id=row.request_id, session_key=row.session_key, text=row.text, requester=row.requester,
                channel=row.channel, opened_at=row.opened_at,
            )
        state = request_fold.evolve(state, event)
        if isinstance(event, WorkspaceProgress) and event.detail:
            lines = progress.setdefault(request_fold.task_key(state, event.task_id, event.workspace), [])
            lines.append(event.detail)
            del lines[:-PROGRESS_LINES]
    if state is None:
        state = RequestState(
            request_id=row.request_id, session_key=row.session_key, text=row.text, requester=row.requester,
            channel=row.channel, opened_at=row.opened_at,
        )
    return replace(state, history=[]), progress
