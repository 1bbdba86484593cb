"""The one status message per running request that chat channels edit in place."""

from __future__ import annotations

from claude_tunnels.projections.requests import RequestState

_MARKS = {
    "pending": "·", "dispatched": "…", "running": "▶", "succeeded": "✓", "failed": "✗",
    "timed_out": "✗", "cancelled": "■", "skipped": "–", "interrupted": "■",
}


def status_text(request: RequestState) -> str:
    """Phase, and each workspace's state (running ones with what they are doing)."""
    if request.plan is None:
        return f"Request {request.request_id}: {request.status}"
    lines = [f"Request {request.request_id}: phase {max(request.phase, 1)} of {len(request.plan.phases)} ({request.status})"]
    for key in request.plan.order():
        task = request.tasks.get(key)
        status = task.status if task else "pending"
        detail = ""
        if task is not None and task.child_request_id:
            detail = f" (child orchestrator, request {task.child_request_id})"
            if status in ("failed", "timed_out") and task.error:
                detail += f": {task.error[:80]}"
        elif task is not None and status == "running" and task.last_progress:
            detail = f": {task.last_progress[:80]}"
        elif task is not None and status in ("failed", "timed_out") and task.error:
            detail = f": {task.error[:80]}"
        refused = f" ({task.refused} action{'s' if task.refused != 1 else ''} refused)" if task is not None and task.refused else ""
        lines.append(f"{_MARKS.get(status, '?')} {request.plan.label_of(key)}{detail}{refused}")
        if task is not None and task.child_request_id:
            # The child's plan and progress, nested under its task (its own children's one step further in).
            lines += [f"    ↳ {nested[:120]}" for nested in task.nested]
    for question in request.pending_questions():
        lines.append(f"❓ {question.workspace} waits for an answer: {question.tool} {question.detail[:80]}")
    return "\n".join(lines)
