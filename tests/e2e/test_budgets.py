"""Cost budgets end to end: a task stopped at its own budget, and a request stopped before its next phase."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from claude_tunnels.events.conversation import ConfirmationRequested, NoticeIssued
from claude_tunnels.events.execution import (
    PhaseStarted,
    RequestCompleted,
    WorkspaceTaskFailed,
    WorkspaceTaskSkipped,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.planning import PlanProposed, RouteDecided
from claude_tunnels.events.values import usd
from claude_tunnels.tunnels.commands.events import request_timeline
from claude_tunnels.tunnels.timeline import detail
from tests.e2e.scenarios import plan, router, scenario, succeeds
from tests.e2e.world import World, world

ALL = "in shared-lib, web-app and api-service:"
ROUTE_ALL = router(["shared-lib", "web-app", "api-service"], ALL)
"""Names in a message are hints: the router agent decides, here keeping the three named."""
E = TypeVar("E")


def of(w: World, cls: type[E]) -> list[E]:
    """The session's events of one type, in order, typed."""
    return [event for event in w.terminal.events if isinstance(event, cls)]


def writes_a_lot(workspace: str) -> dict[str, Any]:
    """A workspace script whose first answer is one large Write: ~10k output tokens, which cost far
    more than a cheap task (a single short answer, about a cent) at any Claude model's price."""
    big = {"name": "Write", "input": {"file_path": "{cwd}/generated.txt", "content": "x" * 40_000}}
    done = {"summary": "generated a lot", "changed_files": ["generated.txt"], "test_result": "pass"}
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [{"tool_uses": [big]}, {"structured_output": done}]}


async def test_a_request_past_its_cost_budget_stops_before_its_next_phase(tmp_path: Path) -> None:
    # Phase 1 (one cheap task) plus planning stay under the request's $0.05; in phase 2 the
    # expensive api-service task passes its own $0.10 at its first answer and is stopped, which
    # takes the request past its budget: phase 3 never starts.
    script = scenario(
        ROUTE_ALL,
        plan("budgeted", ("shared-lib/core", "bump", []), ("api-service", "use it", ["shared-lib/core"]),
             ("web-app/backend", "use it", ["shared-lib/core"]), ("shared-lib/docs", "document it", ["web-app/backend"]),
             ("web-app/frontend", "show it", ["web-app/backend"])),
        succeeds("shared-lib/core", "core bumped"), writes_a_lot("api-service"), succeeds("web-app/backend", "backend done"),
        succeeds("shared-lib/docs"), succeeds("web-app/frontend"),
    )
    limits = {"max_cost_usd_per_request": 0.05, "max_cost_usd_per_task": 0.10}
    async with world(tmp_path, script, limits=limits) as w:
        await w.ask(f"{ALL} budgeted", lambda e: isinstance(e, ConfirmationRequested))
        [proposed] = of(w, PlanProposed)
        [routed] = of(w, RouteDecided)
        # Nothing else spent yet: the router's call and the planner's.
        planning = (routed.usage.cost_usd if routed.usage else 0.0) + (proposed.usage.cost_usd if proposed.usage else 0.0)
        status = await w.ask("status", lambda e: isinstance(e, NoticeIssued))
        assert isinstance(status, NoticeIssued)
        assert f"Spent so far: {usd(planning)} (budget $0.05)." in status.text
        final = await w.run_to_end("yes")

        assert isinstance(final, RequestCompleted), final
        assert proposed.plan.phases[2] == ["shared-lib/docs", "web-app/frontend"]
        assert [e.workspaces for e in of(w, PhaseStarted)] == [
            ["shared-lib/core"], ["api-service", "web-app/backend"],
        ]

        # The task stopped at its own budget: failed, with what it spent kept on the event.
        [failed] = of(w, WorkspaceTaskFailed)
        assert failed.workspace == "api-service"
        assert failed.error.startswith("the task reached its cost budget of $0.10 (spent $")
        assert failed.usage.cost_usd > 0.10 and failed.usage.input_tokens > 0
        # Stopped after the answer that crossed it: never asked again (the tools of that answer
        # may or may not have run; the CLI can start them while it streams the answer).
        assert len(w.model.requests_for("api-service")) == 1

        # The request's total counts routing, planning and every task, the stopped one too.
        spent = [planning, failed.usage.cost_usd] + [e.usage.cost_usd for e in of(w, WorkspaceTaskSucceeded)]
        assert final.usage.cost_usd == round(sum(spent), 6) > 0.05
        reason = f"the request's cost budget of $0.05 is spent ({usd(final.usage.cost_usd)} so far)"
        assert final.stopped == f"stopped before phase 3: {reason}; not run: shared-lib/docs, web-app/frontend"
        assert (final.succeeded, final.failed, final.skipped) == (2, 1, 2)
        skipped = {e.workspace: (e.because, e.reason) for e in of(w, WorkspaceTaskSkipped)}
        assert skipped == {"shared-lib/docs": ([], reason), "web-app/frontend": ([], reason)}
        assert not w.model.requests_for("shared-lib/docs") and not w.model.requests_for("web-app/frontend")

        # What the person was told.
        told = w.out.getvalue()
        assert f"Request {final.request_id} stopped before phase 3: {reason}; not run: shared-lib/docs, web-app/frontend." in told
        assert "✗ api-service failed: the task reached its cost budget of $0.10" in told
        assert f"– web-app/frontend: not run: {reason}" in told and "2 of 5 workspace tasks succeeded" in told

        # The task log and the replay show it.
        log = w.orchestrator.task_log.path_of(final.request_id)
        assert log is not None
        assert w.orchestrator.runner is not None
        await w.orchestrator.runner.wait(await w.orchestrator.store.last_seq())  # folded and written
        text = log.read_text()
        assert f"- Status: **completed** ({final.stopped})" in text
        assert f"### web-app/frontend (phase 3): skipped\n\nTask: show it\n\n- Error: not run: {reason}" in text
        assert "### api-service (phase 2): failed" in text and "- Error: the task reached its cost budget of $0.10" in text
        timeline = [(s.event.type, detail(s.event)) for s in await request_timeline(w.orchestrator.store, final.request_id)]
        assert ("task.skipped", f"shared-lib/docs: not run: {reason}") in timeline
        assert timeline[-1][0] == "request.completed" and timeline[-1][1].endswith(f"; {final.stopped}")
        assert [kind for kind, _ in timeline].count("phase.started") == 2


async def test_a_budget_spent_by_planning_alone_runs_nothing(tmp_path: Path) -> None:
    script = scenario(ROUTE_ALL, plan("tiny", ("shared-lib/core", "bump", []), ("api-service", "use it", ["shared-lib/core"])),
                      succeeds("shared-lib/core"), succeeds("api-service"))
    async with world(tmp_path, script, limits={"max_cost_usd_per_request": 0.0001}) as w:
        await w.ask(f"{ALL} tiny", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")

        assert isinstance(final, RequestCompleted), final
        reason = f"the request's cost budget of $0.0001 is spent ({usd(final.usage.cost_usd)} so far)"
        assert final.stopped == f"stopped before phase 1: {reason}; not run: shared-lib/core, api-service"
        assert (final.succeeded, final.failed, final.skipped) == (0, 0, 2)
        assert not of(w, PhaseStarted) and not w.model.requests_for("shared-lib/core")
        assert [e.reason for e in of(w, WorkspaceTaskSkipped)] == [reason, reason]
