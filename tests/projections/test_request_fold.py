"""The request view as a table: statuses of the request and of each task."""

from __future__ import annotations

from claude_tunnels.events.base import Event
from claude_tunnels.events.conversation import PlanRevised, Turn
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskSkipped
from claude_tunnels.projections import requests as fold_module
from claude_tunnels.projections.requests import RequestState
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"
R1 = "01REQUEST0000000000000001"


def fold(events: list[Event]) -> dict[str, RequestState]:
    requests: dict[str, RequestState] = {}
    for event in events:
        fold_module.fold(requests, event)
    return requests


def test_a_request_runs_from_opening_to_completion() -> None:
    ev = Events()
    events = [
        ev.opened(KEY, R1, "upgrade"),
        ev.routed(KEY, R1, ["shared", "web"]),
        ev.proposed(KEY, R1, two_phase_plan()),
        ev.approved(KEY, R1),
        ev.phase(KEY, R1, 1, ["shared/core"]),
        ev.dispatched(KEY, R1, "shared/core"),
        ev.started(KEY, R1, "shared/core"),
        ev.succeeded(KEY, R1, "shared/core"),
        ev.phase(KEY, R1, 2, ["web/app"]),
        ev.dispatched(KEY, R1, "web/app", phase=2),
        ev.started(KEY, R1, "web/app"),
    ]
    state = fold(events)[R1]
    assert state.status == "executing" and state.phase == 2 and state.projects == ["shared", "web"]
    assert {w: t.status for w, t in state.tasks.items()} == {"shared/core": "succeeded", "web/app": "running"}
    assert state.usage.cost_usd == 0.03  # planner 0.01 + task 0.02
    state = fold([*events, ev.failed(KEY, R1, "web/app", "tests broke"), ev.completed(KEY, R1, "partly")])[R1]
    assert state.status == "completed" and state.tasks["web/app"].error == "tests broke"
    assert state.answer == "partly" and state.ended_at is not None


def test_skipped_tasks_say_why() -> None:
    ev = Events()
    events = [
        ev.opened(KEY, R1, "x"), ev.routed(KEY, R1, ["shared"]), ev.proposed(KEY, R1, two_phase_plan()),
        WorkspaceTaskSkipped(request_id=R1, task_id="t2", workspace="web/app", because=["shared/core"], **ev.envelope(KEY)),
    ]
    task = fold(events)[R1].tasks["web/app"]
    assert task.status == "skipped" and "shared/core" in task.error


def test_a_request_stopped_by_its_cost_budget_says_why_for_each_task_not_run() -> None:
    ev = Events()
    reason = "the request's cost budget of $0.02 is spent ($0.03 so far)"
    stopped = f"stopped before phase 2: {reason}; not run: web/app"
    events = [
        ev.opened(KEY, R1, "x"), ev.routed(KEY, R1, ["shared", "web"]), ev.proposed(KEY, R1, two_phase_plan()),
        ev.approved(KEY, R1), ev.phase(KEY, R1, 1, ["shared/core"]), ev.dispatched(KEY, R1, "shared/core"),
        ev.started(KEY, R1, "shared/core"), ev.succeeded(KEY, R1, "shared/core"),
        WorkspaceTaskSkipped(request_id=R1, task_id="t2", workspace="web/app", because=[], reason=reason, **ev.envelope(KEY)),
        RequestCompleted(request_id=R1, summary="1 of 2", succeeded=1, skipped=1, stopped=stopped, **ev.envelope(KEY)),
    ]
    state = fold(events)[R1]
    assert (state.status, state.reason) == ("completed", stopped)
    assert state.tasks["web/app"].status == "skipped"
    assert state.tasks["web/app"].error == f"not run: {reason}"


def test_events_of_unknown_requests_are_ignored() -> None:
    ev = Events()
    assert fold([ev.routed(KEY, R1, ["x"]), ev.completed(KEY, R1)]) == {}


def test_a_second_opening_with_the_same_id_does_not_reset_the_request() -> None:
    ev = Events()
    first = ev.opened(KEY, R1, "first")
    requests = fold([first, ev.routed(KEY, R1, ["p"]), ev.opened(KEY, R1, "again")])
    assert requests[R1].text == "first" and requests[R1].status == "planning"


def test_the_request_keeps_its_recorded_history_while_it_is_open() -> None:
    ev = Events()
    history = [Turn(role="user", text="fix the login"), Turn(role="assistant", text="Login fixed.")]
    events: list[Event] = [ev.opened(KEY, R1, "and add a test", history=history), ev.routed(KEY, R1, ["web"])]
    assert fold(events)[R1].history == history  # what the planner and the direct answer are given
    proposed = [*events, ev.proposed(KEY, R1, two_phase_plan())]
    revised = PlanRevised(request_id=R1, by="terminal:alice", text="only web", message_id="m2", **ev.envelope(KEY))
    assert fold([*proposed, revised])[R1].history == history  # planned again with the same context
    # An ended request needs none: the stream keeps it, the view forgets it.
    assert fold([*events, ev.completed(KEY, R1)])[R1].history == []
