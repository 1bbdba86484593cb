"""Running dispatched workspace tasks: one path, whichever runner (`TaskExecutor`) carries them out.

For each `task.dispatched` the workspace agent hands over, the runner builds the task's prompt
(the plan's task, the request, its upstream results) and runs it through the executor its target
names: this host's Claude Code (`local`) or a remote agent (`remote`). A local workspace edited in
place runs at most one task at a time across all requests (a lock per workspace, first come first
served); one whose tasks each get their own git worktree runs them at once. At most
`limits.max_parallel_agents` local sessions run at once. Every task reports through its
own `TaskRecorder`, so its events are made in one place. Cancel reaches each running task's
executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping

from claude_tunnels.actors import prompts
from claude_tunnels.actors.background import Background
from claude_tunnels.actors.ports import Appender, Cancelled, Failed, Monotonic, TaskExecutor, TaskOrder, Warmer
from claude_tunnels.actors.task_recorder import QuestionDesk, TaskRecorder
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.execution import WorkspaceTaskDispatched
from claude_tunnels.events.ids import Clock, IdSource
from claude_tunnels.events.values import TaskResult
from claude_tunnels.projections import RequestsView
from claude_tunnels.projections.requests import task_key

log = logging.getLogger(__name__)


class TaskRunner:
    """Runs the dispatched tasks of this orchestrator through its executors (asyncio side)."""

    def __init__(
        self, loaded: LoadedSettings, log_: Appender, requests: RequestsView, clock: Clock, ids: IdSource,
        executors: Mapping[str, TaskExecutor], *, monotonic: Monotonic, background: Background | None = None,
        warmer: Warmer | None = None,
    ) -> None:
        self.loaded = loaded
        self.log = log_
        self.requests = requests
        self.clock = clock
        self.ids = ids
        self.monotonic = monotonic
        self.executors = dict(executors)
        self.background = background if background is not None else Background("task runner")
        """Where the recorders' appends run (the orchestrator's task group)."""
        self.desk = QuestionDesk()
        self.warmer = warmer
        """Where the sessions started ahead are (`actors.warming`); a cancel ends its request's first."""
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._slots = asyncio.Semaphore(loaded.settings.limits.max_parallel_agents)
        self._running: dict[str, TaskRecorder] = {}
        self._cancelled_by: dict[str, str] = {}

    def handle_for(self, dispatched: WorkspaceTaskDispatched) -> TaskRecorder:
        """The recorder of a task, registered as running until it records its end."""
        recorder = self._running.get(dispatched.task_id)
        if recorder is None:
            recorder = TaskRecorder(
                dispatched, log=self.log, requests=self.requests, desk=self.desk, settings=self.loaded,
                clock=self.clock, ids=self.ids, monotonic=self.monotonic, on_end=self._ended, background=self.background,
            )
            self._running[dispatched.task_id] = recorder
        return recorder

    def _ended(self, recorder: TaskRecorder) -> None:
        self._running.pop(recorder.task_id, None)

    def order_for(self, dispatched: WorkspaceTaskDispatched) -> TaskOrder | None:
        """The prompt of a dispatched task from the request as it is now (None if it has no plan)."""
        request = self.requests.get(dispatched.request_id)
        if request is None or request.plan is None:
            return None
        limits = self.loaded.settings.limits
        upstream: list[tuple[str, TaskResult]] = [
            (task.workspace, task.result) for dep in dispatched.upstream
            if (task := request.tasks.get(dep)) is not None and task.result is not None
        ]
        prompt = prompts.workspace_prompt(
            request.plan.task_for(task_key(request, dispatched.task_id, dispatched.workspace)), request.text,
            prompts.upstream_block(upstream, limits.upstream_context_chars), limits.max_message_chars, request.revisions,
        )
        return TaskOrder(dispatched=dispatched, prompt=prompt, instructions=prompts.WORKSPACE_INSTRUCTIONS)

    async def run(self, dispatched: WorkspaceTaskDispatched) -> None:
        """Run one dispatched task (a redelivered or already settled one is left alone)."""
        request = self.requests.get(dispatched.request_id)
        task = request.tasks.get(task_key(request, dispatched.task_id, dispatched.workspace)) if request else None
        if (
            task is None or task.task_id != dispatched.task_id or task.status != "dispatched" or task.attempt != dispatched.attempt
            or dispatched.task_id in self._running
        ):
            return  # an earlier attempt's dispatch delivered again after a restart ran the task again: never twice
        handle = self.handle_for(dispatched)
        executor = self.executors.get(dispatched.target)
        try:
            if executor is None:
                await handle.finish(Failed(f"no runner for {dispatched.target} tasks here"))
                return
            if dispatched.target != "local":
                order = self.order_for(dispatched)
                await (executor.execute(order, handle) if order else handle.finish(Failed("the request has no plan")))
                return
            # A workspace edited in place takes one task at a time; one whose tasks get worktrees does not.
            shared = await executor.in_place(dispatched.workspace)
            async with self._locks[dispatched.workspace] if shared else contextlib.nullcontext(), self._slots:
                current = self.requests.get(dispatched.request_id)
                order = self.order_for(dispatched)
                if current is None or current.status != "executing" or order is None:
                    raise asyncio.CancelledError  # cancelled (or ended) while it waited for its turn
                await executor.execute(order, handle)
        except asyncio.CancelledError:
            by = self._cancelled_by.get(dispatched.request_id, "the orchestrator")
            await handle.finish(Cancelled(reason=f"cancelled by {by}"))

    async def cancel_request(self, request_id: str, by: str) -> None:
        """Stop every running task of a request; each reports its end through its handle."""
        self._cancelled_by[request_id] = by
        if self.warmer is not None:
            # Its sessions started ahead end first (processes gone), so they are gone by the time
            # the request is reported cancelled (its running tasks report after this).
            await self.warmer.keep_warm(request_id, [])
        for recorder in [r for r in self._running.values() if r.dispatched.request_id == request_id]:
            executor = self.executors.get(recorder.dispatched.target)
            if executor is not None:
                await executor.cancel(recorder.task_id, by)

    async def roll_back(self, request_id: str, task_id: str, workspace: str, target: str) -> bool:
        """After a restart: undo what an interrupted run left (see `TaskExecutor.roll_back`);
        whether the task may run again from the start."""
        executor = self.executors.get(target)
        return executor is not None and await executor.roll_back(request_id, task_id, workspace)

    def running(self) -> list[TaskRecorder]:
        """The tasks that have not recorded their end."""
        return list(self._running.values())
