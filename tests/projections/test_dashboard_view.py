"""The dashboard's view as tables: a row per request, the open ones in full, counters for /metrics,
and an ended request's detail folded again from its events equal to what the full view held."""

from __future__ import annotations

from claude_tunnels.events.base import Event
from claude_tunnels.events.conversation import MessageQueued
from claude_tunnels.events.execution import WorkspaceProgress
from claude_tunnels.projections import requests as request_fold
from claude_tunnels.projections.dashboard import PROGRESS_LINES, TEXT_CHARS, DashboardView, detail_of
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"
R1, R2 = "01REQUEST0000000000000001", "01REQUEST0000000000000002"


def run(ev: Events, request_id: str, text: str = "upgrade") -> list[Event]:
    return [
        ev.opened(KEY, request_id, text, message_id=f"m-{request_id}"),
        ev.routed(KEY, request_id, ["shared", "web"]),
        ev.proposed(KEY, request_id, two_phase_plan()),
        ev.approved(KEY, request_id),
        ev.dispatched(KEY, request_id, "shared/core"),
        ev.started(KEY, request_id, "shared/core"),
    ]


def progress(ev: Events, request_id: str, detail: str) -> WorkspaceProgress:
    return WorkspaceProgress(request_id=request_id, task_id=f"{request_id}-shared/core", workspace="shared/core", kind="tool", detail=detail,
                             **ev.envelope(KEY))


def fold(events: list[Event]) -> DashboardView:
    view = DashboardView()
    for seq, event in enumerate(events, start=1):
        view.apply(seq, event)
    return view


def test_an_open_request_is_kept_in_full_and_its_progress_bounded() -> None:
    ev = Events()
    events = [*run(ev, R1, "x" * 1000), *(progress(ev, R1, f"step {n}") for n in range(50))]
    view = fold(events)
    row = view.rows[R1]
    assert (row.status, row.projects, row.tasks, row.tasks_done, row.approved_by) == ("executing", ["shared", "web"], 2, 0, KEY)
    assert len(row.text) == TEXT_CHARS and row.cost_usd == 0.01
    assert view.open[R1].tasks["shared/core"].status == "running" and view.running_tasks() == 1
    assert view.progress[R1]["shared/core"] == [f"step {n}" for n in range(50 - PROGRESS_LINES, 50)]


def test_an_ended_request_keeps_only_its_row_and_counts_its_outcomes() -> None:
    ev = Events()
    events = [*run(ev, R1), progress(ev, R1, "working"), ev.succeeded(KEY, R1, "shared/core"), ev.dispatched(KEY, R1, "web/app", phase=2),
              ev.started(KEY, R1, "web/app"), ev.failed(KEY, R1, "web/app"), ev.completed(KEY, R1)]
    view = fold(events)
    assert R1 not in view.open and R1 not in view.progress
    row = view.rows[R1]
    assert (row.status, row.tasks_done, row.ended_at) == ("completed", 2, events[-1].at)
    assert view.tasks.count == {"succeeded": 1, "failed": 1} and view.tasks.seconds == {"succeeded": 2.0, "failed": 1.0}
    assert view.requests.count == {"completed": 1} and view.requests.seconds["completed"] == (events[-1].at - events[0].at).total_seconds()
    assert view.cost_by_project_day == {("shared", events[0].at.date().isoformat()): 0.02}
    assert view.running_tasks() == 0 and view.by_status() == {"completed": 1}

    # Its page folds it again from its own events: the same state the full request view holds.
    full: dict[str, request_fold.RequestState] = {}
    for event in events:
        request_fold.fold(full, event)
    state, lines = detail_of(row, events)
    assert state == full[R1] and lines == {"shared/core": ["working"]}


def test_queued_messages_search_and_filters() -> None:
    ev = Events()
    events = [*run(ev, R1, "upgrade the core"),
              MessageQueued(request_id=R1, message_id="m-q", text="next", sender=KEY, position=1, **ev.envelope(KEY))]
    assert fold(events).queued_messages() == 1
    events += [ev.completed(KEY, R1), *run(ev, R2, "deploy the web app")]
    events[-len(run(Events(), R2))] = ev.opened(KEY, R2, "deploy the web app", message_id="m-q")  # the queued message's turn
    view = fold(events)
    assert view.queued_messages() == 0
    assert [r.request_id for r in view.rows_matching()] == [R2, R1]  # newest first
    assert [r.request_id for r in view.rows_matching(query="CORE")] == [R1]
    assert [r.request_id for r in view.rows_matching(status="executing")] == [R2]
    assert [r.request_id for r in view.rows_matching(query="web")] == [R2, R1]  # projects match too
    assert view.rows_matching(limit=1)[0].request_id == R2
