"""The workspace agent (one per task): runs the task's Claude Code session and records how it ended."""

from __future__ import annotations

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.execution import WorkspaceTaskDispatched


class WorkspaceAgent(EventActor):
    """Started for one dispatched task; the task runs on the loop through the task runner (here,
    or handed to the workspace's remote agent) and the actor then stops."""

    def __init__(self, ctx: ActorContext, task_id: str) -> None:
        super().__init__(ctx)
        self.task_id = task_id
        self.started = False

    def handle(self, event: AnyEvent, seq: int) -> None:
        if not isinstance(event, WorkspaceTaskDispatched) or self.started:
            return
        self.started = True
        ref = self.actor_ref

        async def run() -> None:
            try:
                await self.ctx.tasks.run(event)
            finally:
                ref.stop(block=False)

        self.ctx.start(run(), name=f"task {event.task_id}")
