"""The answer to "status", from the projections: what runs, and what it has cost against its budget."""

from __future__ import annotations

import pytest

from claude_tunnels.actors.status import describe_status
from claude_tunnels.events.base import Event
from claude_tunnels.projections.views import RequestsView, SessionsView
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"
R1 = "01REQUEST0000000000000001"


def views(events: list[Event]) -> tuple[SessionsView, RequestsView]:
    sessions, requests = SessionsView(), RequestsView()
    for seq, event in enumerate(events, start=1):
        sessions.apply(seq, event)  # type: ignore[arg-type]
        requests.apply(seq, event)  # type: ignore[arg-type]
    return sessions, requests


def running() -> list[Event]:
    """Planned ($0.01), approved, shared/core done ($0.02), web/app running."""
    ev = Events()
    return [
        ev.message(KEY, "upgrade"), ev.opened(KEY, R1, "upgrade"), ev.routed(KEY, R1, ["shared", "web"]),
        ev.proposed(KEY, R1, two_phase_plan()), ev.approved(KEY, R1), ev.phase(KEY, R1, 1, ["shared/core"]),
        ev.dispatched(KEY, R1, "shared/core"), ev.started(KEY, R1, "shared/core"), ev.succeeded(KEY, R1, "shared/core"),
        ev.phase(KEY, R1, 2, ["web/app"]), ev.dispatched(KEY, R1, "web/app", phase=2), ev.started(KEY, R1, "web/app"),
    ]


@pytest.mark.parametrize(
    "events, budget, lines",
    [
        (running(), 1.0, [f"Request {R1} is running.", "Spent so far: $0.03 (budget $1.00).",
                          "Phase 2 of 2; tasks: 1 running, 1 succeeded."]),
        (running(), None, [f"Request {R1} is running.", "Spent so far: $0.03.", "Phase 2 of 2; tasks: 1 running, 1 succeeded."]),
        (running()[:4], 0.5, [f"Request {R1} is waiting for your approval of the plan.", "Spent so far: $0.01 (budget $0.50)."]),
        (running()[:3], 0.5, [f"Request {R1} is planning.", "Spent so far: $0.00 (budget $0.50)."]),
        ([], 1.0, ["Nothing is running. Send a request to start."]),
    ],
    ids=["executing-with-budget", "executing-without-budget", "awaiting-approval", "planning", "idle"],
)
def test_status_shows_what_the_request_has_cost(events: list[Event], budget: float | None, lines: list[str]) -> None:
    sessions, requests = views(events)

    assert describe_status(sessions.get(KEY), requests, budget).splitlines() == lines
