"""The answer to "status": what the session is doing, from the projections."""

from __future__ import annotations

from claude_tunnels.events.values import usd
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.sessions import SessionState
from claude_tunnels.projections.views import RequestsView

_WAITING = {
    "planning": "planning",
    "pending_plan_approval": "waiting for your approval of the plan",
    "pending_confirmation": "waiting for your answer to my question",
    "executing": "running",
}


def _tasks_line(request: RequestState) -> str:
    counts: dict[str, int] = {}
    for task in request.tasks.values():
        counts[task.status] = counts.get(task.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _spent_line(request: RequestState, budget_usd: float | None) -> str:
    spent = f"Spent so far: {usd(request.usage.cost_usd)}"
    return f"{spent} (budget {usd(budget_usd)})." if budget_usd is not None else f"{spent}."


def describe_status(state: SessionState, requests: RequestsView, budget_usd: float | None = None) -> str:
    """One short paragraph, with what the request has cost so far against `budget_usd`
    (`limits.max_cost_usd_per_request`; None: no budget)."""
    if state.request is None:
        return "Nothing is running. Send a request to start."
    request = requests.get(state.request.request_id)
    lines = [f"Request {state.request.request_id} is {_WAITING.get(state.status, state.status)}."]
    if request is not None:
        lines.append(_spent_line(request, budget_usd))
    if request is not None and request.plan is not None and state.status == "executing":
        lines.append(f"Phase {request.phase} of {len(request.plan.phases)}; tasks: {_tasks_line(request)}.")
        running = [t for t in request.tasks.values() if t.status == "running" and t.last_progress]
        lines += [f"- {t.workspace}: {t.last_progress}" for t in running]
    if state.queue:
        lines.append(f"{len(state.queue)} message(s) queued after it.")
    return "\n".join(lines)
