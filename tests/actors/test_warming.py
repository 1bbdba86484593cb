"""Which tasks are kept warm, as a table over the request's state (`actors.warming.wanted`)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from claude_tunnels.actors.ports import WarmTask
from claude_tunnels.actors.warming import wanted
from claude_tunnels.events.values import Plan, PlannedTask
from claude_tunnels.projections.requests import RequestState, TaskState

PLAN = Plan(
    label="v2",
    tasks=[PlannedTask(workspace="a/x", task="t"), PlannedTask(workspace="a/y", task="t"),
           PlannedTask(workspace="b/z", task="t", depends_on=["a/x"]), PlannedTask(workspace="c/w", task="t", depends_on=["b/z"])],
    phases=[["a/x", "a/y"], ["b/z"], ["c/w"]],
)


def request(status: str, phase: int = 0, cancel: str = "", **statuses: tuple[str, int]) -> RequestState:
    tasks = {w: TaskState(workspace=w, task="t", phase=1) for w in ("a/x", "a/y", "b/z", "c/w")}
    for key, (status_, attempt) in statuses.items():
        workspace = key.replace("_", "/")
        tasks[workspace] = msgspec.structs.replace(tasks[workspace], status=status_, attempt=attempt)  # type: ignore[arg-type]
    return RequestState(
        request_id="R1", session_key="s", text="t", requester="u", channel="terminal", opened_at=datetime(2025, 1, 1, tzinfo=UTC),
        status=status, plan=PLAN, phase=phase, tasks=tasks, cancel_requested_by=cancel,  # type: ignore[arg-type]
    )


def names(tasks: list[WarmTask]) -> list[tuple[str, str, bool]]:
    return [(t.task_id, t.workspace, t.approved) for t in tasks]


@pytest.mark.parametrize(("state", "expected"), [
    # Waiting for approval: phase 1 only, not approved yet.
    (request("awaiting_approval"), [("R1-1", "a/x", False), ("R1-2", "a/y", False)]),
    # Approved, no phase started yet: phase 1 and the next.
    (request("executing"), [("R1-1", "a/x", True), ("R1-2", "a/y", True), ("R1-3", "b/z", True)]),
    # Phase 1 running (its tasks taken: running), phase 2 warm; a dispatched one is still wanted until taken.
    (request("executing", 1, a_x=("running", 1), a_y=("dispatched", 1)), [("R1-2", "a/y", True), ("R1-3", "b/z", True)]),
    (request("executing", 2, a_x=("succeeded", 1), a_y=("succeeded", 1), b_z=("running", 1)), [("R1-4", "c/w", True)]),
    # A task run again after a restart (attempt 2) starts cold; a skipped one is not wanted.
    (request("executing", 1, a_x=("dispatched", 2), a_y=("running", 1), b_z=("skipped", 0)), []),
    # Asked to stop, planning again (revised), cancelled (a rejected or expired plan too), ended: nothing.
    (request("executing", 1, cancel="alice"), []),
    (request("planning"), []),
    (request("failed"), []),
    (request("cancelled"), []),
    (request("completed"), []),
])
def test_what_is_kept_warm(state: RequestState, expected: list[tuple[str, str, bool]]) -> None:
    assert names(wanted(state)) == expected
