"""After a restart: every request the old process left open is taken up again, from the stream.

It runs once at start, after the projections caught up and remote tasks were adopted, and before
any event is delivered again, so it decides on the state the crash left and nothing races it:

- **routing or planning** (nothing has run): `request.resumed` is recorded; the router or the
  planner reacts to it as to `request.opened` / `route.decided` (a redelivery of those is the
  same work, done once: the actors skip a request already in flight or past that stage);
- **executing**: each task this process was running is settled. One only dispatched never
  started (a local task's `task.started` is stored before its agent starts), so it simply runs.
  One that was running in a git worktree is rolled back (the worktree removed; its next run makes
  the branch again at the request's base with its upstream merged in) and runs again, once: a
  second interruption is reported. One that edited its workspace in place cannot be rolled back:
  it is reported interrupted, never run again behind the person's back, and the usual failure
  policy applies to its dependants. Questions of a task that runs again are closed (it asks anew).
  Remote tasks adopted again are left to their agents. The request's supervisor is then resumed
  with that verdict (`phase_supervisor.Resume`) and takes it on, telling the person once;
- **awaiting approval**: stays pending (the gates re-arm their expiries; channels show it again).
"""

from __future__ import annotations

from collections.abc import Callable

from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.permission_gate import closing
from claude_tunnels.actors.phase_supervisor import Resume
from claude_tunnels.events.execution import RequestResumed
from claude_tunnels.projections.requests import TASK_ACTIVE, RequestState, TaskState

MAX_RUNS = 2
"""How often a task that had started may run: once, and once again after an interruption."""

NOT_ROLLED_BACK = (
    "the orchestrator restarted while this task ran; its workspace is not in git, so its half-done edits "
    "cannot be rolled back and it is not run again"
)
INTERRUPTED_AGAIN = "the orchestrator restarted while this task ran again after an earlier restart; it is not run a third time"
LOST = "the orchestrator restarted while this task ran and its agent did not take it up again"
CANCELLING = "the orchestrator restarted while this task was being stopped"


async def reconcile(
    ctx: ActorContext, resume: Callable[[str, Resume], None], adopted: set[str] | frozenset[str] = frozenset(),
) -> int:
    """Take up every request left open by a previous process (`resume(request_id, verdict)` tells
    its supervisor); return how many were taken up. Remote tasks in `adopted` run on."""
    taken = 0
    for request in sorted(ctx.requests.requests.values(), key=lambda r: r.opened_at):
        if request.status in ("routing", "planning"):
            await ctx.recorder.append(RequestResumed(
                id=ctx.ids.new_id(), at=ctx.clock.now(), session_key=request.session_key, causation_id=None,
                request_id=request.request_id, stage=request.status,
            ))
        elif request.status == "executing":
            resume(request.request_id, await _verdict(ctx, request, adopted))
        else:
            continue
        taken += 1
    return taken


async def _verdict(ctx: ActorContext, request: RequestState, adopted: set[str] | frozenset[str]) -> Resume:
    """What becomes of each task of `request` that this process was running (by task key)."""
    rerun: set[str] = set()
    interrupted: dict[str, str] = {}
    for key, task in sorted(request.tasks.items(), key=lambda item: (item[1].phase, item[1].workspace)):
        if task.status not in TASK_ACTIVE or task.task_id in adopted:
            continue
        if task.target != "local":
            interrupted[key] = LOST
            continue
        clean = await ctx.tasks.roll_back(request.request_id, task.task_id, task.workspace, task.target)
        if request.cancel_requested_by:
            interrupted[key] = CANCELLING
        elif task.status == "dispatched" or clean and task.attempt < MAX_RUNS:
            rerun.add(key)  # never started (nothing to undo), or rolled back to a clean start
            await _close_questions(ctx, request, task)
        else:
            interrupted[key] = NOT_ROLLED_BACK if not clean else INTERRUPTED_AGAIN
    return Resume(rerun=frozenset(rerun), interrupted=interrupted)


async def _close_questions(ctx: ActorContext, request: RequestState, task: TaskState) -> None:
    # The interrupted run's questions died with it; its next run asks its own.
    for question in request.pending_questions():
        if question.task_id == task.task_id:
            await ctx.recorder.append(closing(
                question, request, at=ctx.clock.now(), cause_id=None, allowed=False, by="orchestrator",
                reason="the task was interrupted by a restart and runs again",
            ))
