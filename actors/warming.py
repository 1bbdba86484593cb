"""Which tasks have a Claude Code session started ahead ("warm"), decided from the request's state.

A CLI needs about a CPU-second to start, and eight starting at once on two cores take seconds
before any of them reaches the model. So a task's session is started before it is due, while
the machine mostly waits: phase 1's while the plan waits for approval, the next phase's while a
phase runs. The prompt (with its upstream context, known only when the task is due) is sent
when the task is dispatched; until then the CLI has received no user message, so it has called
no model and run no tool. This module only decides; the `Warmer` port (this host's executor)
starts and ends the sessions, and bounds how many wait (`limits.max_warm_agents`).

The decision is a function of the request as the projection has it after each event, so it
needs no memory of its own and a redelivered event changes nothing:

- awaiting approval: the tasks of phase 1 (`approved=False`: the warmer leaves out a workspace
  whose own settings would run a command when its session starts);
- executing, not asked to stop: the tasks of the current phase and of the next one that are
  still pending or dispatched, first attempts only (a dispatched task takes its warm session
  when it runs);
- anything else (planning again after a revision; cancelled, which a rejected plan is too;
  failed, which an expired approval is; completed): none.
  What was warm and is no longer wanted is dropped (its CLI process ends).
"""

from __future__ import annotations

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.ports import Warmer, WarmTask
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.projections import RequestsView
from claude_tunnels.projections.requests import RequestState

_WAITING = (("pending", 0), ("dispatched", 1))


def wanted(request: RequestState) -> list[WarmTask]:
    """The tasks of `request` that should have a warm session now, in plan order."""
    plan = request.plan
    if plan is None:
        return []
    if request.status == "awaiting_approval":
        phases, approved = [1], False
    elif request.status == "executing" and not request.cancel_requested_by:
        current = max(request.phase, 1)
        phases, approved = [current, current + 1], True
    else:
        return []
    found = []
    for number in phases:
        if number > len(plan.phases):
            break
        for key in plan.phases[number - 1]:
            task = request.tasks.get(key)
            # A first attempt only: one run again after a restart starts cold in a worktree of its own.
            if task is None or (task.status, task.attempt) in _WAITING:
                found.append(WarmTask(plan.run_id(request.request_id, key), plan.task_for(key).workspace, approved))
    return found


class Warming:
    """Keeps the warm sessions in step with the requests (a listener of the projection runner,
    on the loop): after an event of a request changes what should be warm, the warmer is told."""

    def __init__(self, requests: RequestsView, warmer: Warmer, background: Background) -> None:
        self.requests = requests
        self.warmer = warmer
        self.background = background
        self._told: dict[str, tuple[WarmTask, ...]] = {}  # request -> what the warmer was last told

    def on_event(self, seq: int, event: AnyEvent) -> None:
        """Called after `event` is folded; never blocks (the warmer's work runs in the background)."""
        request_id = getattr(event, "request_id", None)
        if not request_id or self.background.closed:
            return
        request = self.requests.get(request_id)
        tasks = tuple(wanted(request)) if request is not None else ()
        if self._told.get(request_id, ()) == tasks:
            return  # nothing changed (most events: progress, permissions, replies)
        if tasks:
            self._told[request_id] = tasks
        else:
            self._told.pop(request_id, None)
        self.background.start(self.warmer.keep_warm(request_id, tasks), name=f"warm {request_id}")
