"""The asyncio side of the actors: the tree, agent calls, and running workspace tasks.

A workspace runs at most one task at a time across all requests (an asyncio lock per workspace,
first come first served), and at most `limits.max_parallel_agents` sessions run at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from actors.context import Recorder
from config.loader import LoadedSettings
from events.execution import (
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from events.ids import Clock, IdSource
from events.values import TaskResult
from projections import RequestsView
from tunnels.claude import AgentError, AgentTimeout, Progress
from tunnels.runtime.agent_calls import AgentCalls
from tunnels.runtime.envelopes import task_envelope
from tunnels.runtime.permission_desk import PermissionDesk
from remote_agent.protocol import BashPolicy, TaskCommand, UpstreamResult
from tunnels.bus.errors import BusError
from tunnels.runtime.remote import RemoteWorkspaces
from tunnels.tree import Tree, TreeError, discover, remote_workspace

log = logging.getLogger(__name__)


class Services:
    """What actors start on the loop."""

    def __init__(
        self, loaded: LoadedSettings, calls: AgentCalls, recorder: Recorder, requests: RequestsView, clock: Clock, ids: IdSource,
        remote: RemoteWorkspaces | None = None,
    ) -> None:
        self.remote = remote
        self.loaded = loaded
        self.calls = calls
        self.recorder = recorder
        self.requests = requests
        self.clock = clock
        self.ids = ids
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._slots = asyncio.Semaphore(loaded.settings.limits.max_parallel_agents)
        self._running: dict[str, dict[str, asyncio.Task[Any]]] = defaultdict(dict)
        self._cancelled_by: dict[str, str] = {}
        self.agent_name = f"local:{loaded.root.name}"
        self._loop = asyncio.get_running_loop()
        self._told: set[str] = set()  # what was left out of the tree, warned about once each
        self.desk = PermissionDesk(loaded, recorder, requests, clock, ids)
        self.sandbox_problem: str | None = None
        """Why workspace agents cannot run here (the OS sandbox is required and cannot run), if so."""

    def tree(self) -> Tree:
        """The project tree as it is on disk now, plus the workspaces remote agents announce."""
        loaded = self.loaded
        tree = discover(loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir])
        for line in tree.left_out():
            self._warn_once(f"left out of the project tree: {line}")
        local = {workspace.qualified for workspace in tree.workspaces()}
        remote = []
        for name, presence in sorted(self.remote.live().items() if self.remote else []):
            project, _, rest = name.partition("/")
            if name not in local and rest:
                try:
                    remote.append(remote_workspace(project, rest, claude_md=presence.claude_md))
                except TreeError as err:
                    self._warn_once(f"ignoring the remote workspace {name!r}: {err}")
        return tree.with_remote(remote) if remote else tree

    def _warn_once(self, text: str) -> None:
        # The tree is read for every request and task: say each problem once per process, not each time.
        if text not in self._told:
            self._told.add(text)
            log.warning("%s", text)

    def remote_workspaces(self) -> set[str]:
        """Qualified names of workspaces served by remote agents right now."""
        return set(self.remote.live()) if self.remote else set()

    async def dispatch_remote(self, dispatched: WorkspaceTaskDispatched) -> None:
        """Queue a task for a remote agent; its reports come back as events."""
        request = self.requests.get(dispatched.request_id)
        try:
            if self.remote is None or request is None or request.plan is None:
                raise TreeError(f"{dispatched.workspace} has no remote agent")
            limits, permissions = self.loaded.settings.limits, self.loaded.settings.permissions
            bash = permissions.bash
            command = TaskCommand(
                task_id=dispatched.task_id, request_id=dispatched.request_id, workspace=dispatched.workspace,
                task=request.plan.task_for(dispatched.workspace).task, request_text=request.text,
                upstream=[
                    UpstreamResult(workspace=dep, result=task.result) for dep in dispatched.upstream
                    if (task := request.tasks.get(dep)) is not None and task.result is not None
                ],
                timeout_s=limits.task_timeout_s, max_turns=limits.workspace_max_turns, model=self.loaded.settings.models.workspace,
                bash=BashPolicy(mode=bash.mode, allow=bash.allow, deny=list(bash.deny)),
                upstream_context_chars=limits.upstream_context_chars, max_message_chars=limits.max_message_chars,
                max_budget_usd=limits.max_cost_usd_per_task,
                sandbox=permissions.sandbox, network_allow=list(permissions.network.allow),
                relay=list(permissions.relay.actions), relay_timeout_s=permissions.relay.timeout_s,
            )
            await self.remote.dispatch(dispatched, command)
        except (TreeError, BusError) as err:
            if self.remote is not None:
                self.remote.in_flight.pop(dispatched.task_id, None)
            await self.recorder.append(WorkspaceTaskFailed(**self._envelope(dispatched), error=str(err)))

    def cancel_request(self, request_id: str, by: str) -> None:
        """Stop every running task of a request (thread-safe)."""

        def cancel() -> None:
            self._cancelled_by[request_id] = by
            for task in self._running.get(request_id, {}).values():
                task.cancel()
            if self.remote is not None:
                asyncio.ensure_future(self.remote.cancel(request_id, by))

        self._loop.call_soon_threadsafe(cancel)

    def _envelope(self, dispatched: WorkspaceTaskDispatched) -> dict[str, Any]:
        return task_envelope(dispatched, self.clock, self.ids)

    async def run_task(self, dispatched: WorkspaceTaskDispatched) -> None:
        """Run one dispatched task to its end and record how it ended."""
        request = self.requests.get(dispatched.request_id)
        task = request.tasks.get(dispatched.workspace) if request else None
        if task is None or task.task_id != dispatched.task_id or task.status != "dispatched":
            return  # a redelivery of a task that already ran, or was settled by a restart
        me = asyncio.current_task()
        assert me is not None
        self._running[dispatched.request_id][dispatched.task_id] = me
        progress = _ProgressRecorder(self, dispatched)
        permissions = self.desk.for_task(dispatched)
        try:
            async with self._locks[dispatched.workspace], self._slots:
                request = self.requests.get(dispatched.request_id)
                if request is None or request.plan is None or request.status != "executing":
                    raise asyncio.CancelledError
                if self.sandbox_problem is not None:
                    raise TreeError(self.sandbox_problem)
                workspace = self.tree().workspace(dispatched.workspace)
                if workspace.path is None:
                    raise TreeError(f"{dispatched.workspace} has no local folder")
                await self.recorder.append(WorkspaceTaskStarted(**self._envelope(dispatched), agent=self.agent_name))
                upstream: list[tuple[str, TaskResult]] = [
                    (dep, task.result) for dep in dispatched.upstream
                    if (task := request.tasks.get(dep)) is not None and task.result is not None
                ]
                relayed = bool(self.loaded.settings.permissions.relay.actions)
                answered = await self.calls.work(
                    request.plan.task_for(dispatched.workspace), workspace.path, request.text, upstream, progress.on_progress,
                    on_decision=permissions.on_decision, ask=permissions.ask if relayed else None,
                )
                await progress.drain()
                outcome: Any = WorkspaceTaskSucceeded(**self._envelope(dispatched), result=answered.value, usage=answered.usage)
        except asyncio.CancelledError:
            by = self._cancelled_by.get(dispatched.request_id, "the orchestrator")
            outcome = WorkspaceTaskCancelled(**self._envelope(dispatched), reason=f"cancelled by {by}")
        except AgentTimeout as err:
            outcome = WorkspaceTaskTimedOut(**self._envelope(dispatched), timeout_s=err.timeout_s)
        except AgentError as err:  # a cost budget reached among them: what it spent is recorded
            outcome = WorkspaceTaskFailed(**self._envelope(dispatched), error=str(err), usage=err.usage)
        except TreeError as err:
            outcome = WorkspaceTaskFailed(**self._envelope(dispatched), error=str(err))
        finally:
            self._running[dispatched.request_id].pop(dispatched.task_id, None)
        await progress.drain()
        await permissions.drain()
        await self.recorder.append(outcome)


class _ProgressRecorder:
    """Turns an agent's progress into `task.progress` events, at most one per interval."""

    def __init__(self, services: Services, dispatched: WorkspaceTaskDispatched) -> None:
        self.services = services
        self.dispatched = dispatched
        self.interval = services.loaded.settings.limits.progress_interval_s
        self.last = float("-inf")
        self.pending: set[asyncio.Task[Any]] = set()

    def on_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        event = WorkspaceProgress(**task_envelope(self.dispatched, self.services.clock, self.services.ids), kind=progress.kind, detail=progress.detail[:300])
        task = asyncio.ensure_future(self.services.recorder.append(event))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self) -> None:
        """Wait for the progress events already sent, so none lands after the task's end."""
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
