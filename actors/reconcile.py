"""After a restart: requests the old process was working on are settled from the stream.

Nothing stays "running" here: a task this process ran is reported as interrupted (never run
again behind the person's back). A task a remote agent runs is not this process's to interrupt:
the agent carries on, it was adopted again (`RemoteWorkspaces.adopt`), and its request goes on
under a resumed supervisor. An executing request with no adopted task fails with that
explanation; a request caught before its plan was ready fails with a request to send it again.
Pending approvals and questions stay pending (their expiry is re-armed by the gates).
"""

from __future__ import annotations

from typing import Any

from claude_tunnels.actors.context import ActorContext
from claude_tunnels.events.execution import RequestFailed, WorkspaceTaskCancelled, WorkspaceTaskInterrupted
from claude_tunnels.projections.requests import TASK_ACTIVE, RequestState


async def reconcile(ctx: ActorContext, adopted: set[str] | frozenset[str] = frozenset()) -> int:
    """Settle every request left open by a previous process (but the tasks in `adopted`, which
    remote agents still run); return how many requests were settled."""
    settled = 0
    for request in list(ctx.requests.requests.values()):
        if request.status not in ("routing", "planning", "executing"):
            continue
        if request.status == "executing" and any(t.task_id in adopted for t in request.tasks.values()):
            await _interrupt_local(ctx, request, adopted)
            continue

        def envelope(request: RequestState = request, **fields: Any) -> dict[str, Any]:
            return {"id": ctx.ids.new_id(), "at": ctx.clock.now(), "session_key": request.session_key,
                    "causation_id": None, "request_id": request.request_id, **fields}

        if request.status == "executing":
            interrupted = []
            for task in sorted(request.tasks.values(), key=lambda t: (t.phase, t.workspace)):
                if task.status in TASK_ACTIVE:
                    interrupted.append(task.workspace)
                    await ctx.recorder.append(WorkspaceTaskInterrupted(
                        **envelope(task_id=task.task_id, workspace=task.workspace),
                        reason="the orchestrator restarted while this task ran",
                    ))
                elif task.status == "pending":
                    await ctx.recorder.append(WorkspaceTaskCancelled(
                        **envelope(task_id=task.task_id, workspace=task.workspace), reason="not run: the orchestrator restarted",
                    ))
            names = ", ".join(interrupted) or "none"
            reason = (f"the orchestrator restarted while this request ran; interrupted tasks: {names}. "
                      "Nothing was run again; send the request again to retry.")
        else:
            reason = "the orchestrator restarted before the plan was ready; please send the request again"
        await ctx.recorder.append(RequestFailed(**envelope(), stage="recovery", reason=reason))
        settled += 1
    return settled


async def _interrupt_local(ctx: ActorContext, request: RequestState, adopted: set[str] | frozenset[str]) -> None:
    """Report this process's own unfinished tasks of a request that goes on (its supervisor is resumed)."""
    for task in sorted(request.tasks.values(), key=lambda t: (t.phase, t.workspace)):
        if task.status in TASK_ACTIVE and task.task_id not in adopted:
            await ctx.recorder.append(WorkspaceTaskInterrupted(
                id=ctx.ids.new_id(), at=ctx.clock.now(), session_key=request.session_key, causation_id=None,
                request_id=request.request_id, task_id=task.task_id, workspace=task.workspace,
                reason="the orchestrator restarted while this task ran",
            ))
