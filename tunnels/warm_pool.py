"""This host's warm sessions (`actors.ports.Warmer`): tasks' Claude Code CLIs started ahead.

A warm session needs its working folder before its CLI starts (the process's cwd, the
permission policy, the sandbox's writable paths and the agent's `GIT_DIR` all name it), but its
upstream tasks' branches exist only once they have run. So in git the task's worktree is made
ahead at the request's base, on the task's branch, with the agent's git directory; when the task
is due its upstream branches are merged into it and that git directory is laid out again at the
merged commit (`GitTasks.ready`). This is safe because:

- until its prompt is sent the CLI has done nothing in the folder (no user message: no model
  call, no tool), so the merge meets a clean worktree on the task's own branch, exactly as a
  worktree made at dispatch would be before its merge;
- the paths the session was started with (cwd, its git directory, the repository's `.git`) are
  the same after the merge: only the files and the git directory's contents change;
- a merge that conflicts fails the task as it would have at dispatch (the warm CLI is ended).

Outside git the session starts in the workspace itself and the manifest that says what changed
is taken when the task is due. Bounded by `limits.max_warm_agents`; a workspace whose own settings
run commands at start is not warmed before approval (`tunnels.claude.start_commands`); remote
workspaces are not warmed (their agent runs elsewhere). Every warm session that is dropped has its
CLI ended and its worktree and branch removed (nothing ran in them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from claude_tunnels.actors.agent_errors import AgentError
from claude_tunnels.actors.ports import TreeSource, WarmTask
from claude_tunnels.actors.prompts import WORKSPACE_INSTRUCTIONS
from claude_tunnels.actors.tree import TreeError
from claude_tunnels.tunnels.claude import WarmAgent
from claude_tunnels.tunnels.claude.start_commands import start_commands
from claude_tunnels.tunnels.git.tasks import GitTasks, Placement, PreparationFailed

if TYPE_CHECKING:
    from claude_tunnels.tunnels.agents import SessionSettings

log = logging.getLogger(__name__)

Warmed = tuple[Placement, WarmAgent]


@dataclass
class WarmEntry:
    """One warm session: which task it is for, and its start-up (None when it could not start)."""

    request_id: str
    task: WarmTask
    starting: asyncio.Task[Warmed | None] = field(repr=False)

    async def ready(self) -> Warmed | None:
        """The placement and the started CLI, once started (None: start it cold instead)."""
        try:
            return await asyncio.shield(self.starting)
        except Exception as err:  # not a reason to fail the task: it starts cold
            log.warning("a warm session of %s failed to start: %s", self.task.task_id, err)
            return None

    def holds(self) -> bool:
        """Whether it holds (or may still hold) a started CLI."""
        if not self.starting.done():
            return True
        return not self.starting.cancelled() and self.starting.exception() is None and self.starting.result() is not None


class WarmPool:
    """Starts, hands out and drops this host's warm sessions."""

    def __init__(
        self, sessions: SessionSettings, trees: TreeSource, places: GitTasks, *, limit: int, relayed: bool,
        busy: Callable[[str], bool],
    ) -> None:
        self.sessions = sessions
        self.trees = trees
        self.places = places
        self.limit = limit
        self.relayed = relayed
        self.busy = busy
        """Whether a task runs already (never warmed then: its worktree is in use)."""
        self._entries: dict[str, WarmEntry] = {}
        self._spent: dict[str, set[str]] = {}  # request -> its tasks handed out (or run cold): never warmed again
        self._lock = asyncio.Lock()
        self._closed = False
        self._changed = asyncio.Condition()
        self.served = 0
        """How many warm sessions were handed out to their task when it was due."""

    def warm(self) -> dict[str, WarmEntry]:
        """The warm sessions by task id (starting or started), for inspection."""
        return dict(self._entries)

    async def wait_for(self, predicate: Callable[[dict[str, WarmEntry]], bool]) -> dict[str, WarmEntry]:
        """Wait until `predicate(warm sessions)` holds (checked each time they change); them then."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(dict(self._entries)))
            return dict(self._entries)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def keep_warm(self, request_id: str, tasks: Sequence[WarmTask]) -> None:
        """See `actors.ports.Warmer.keep_warm`."""
        # One at a time, and what goes is gone before anything new starts: a revised plan may give
        # a task id (hence a worktree path) to another workspace.
        async with self._lock:
            keep = {task.task_id: task for task in tasks}
            dropped = [
                self._entries.pop(task_id) for task_id, entry in list(self._entries.items())
                if entry.request_id == request_id and (task_id not in keep or keep[task_id].workspace != entry.task.workspace)
            ]
            # Shielded: a keep_warm cancelled at shutdown still ends the CLIs it took out of the pool.
            await asyncio.shield(asyncio.gather(*(self._drop(entry) for entry in dropped)))
            spent = self._spent.setdefault(request_id, set())
            for task in tasks:
                if self._closed or self._alive() >= self.limit:
                    break
                if task.task_id in self._entries or task.task_id in spent or self.busy(task.task_id):
                    continue
                starting = asyncio.get_running_loop().create_task(self._start(request_id, task), name=f"warm {task.task_id}")
                self._entries[task.task_id] = WarmEntry(request_id, task, starting)
            if not tasks:
                self._spent.pop(request_id, None)  # nothing of it is warmed again unless it asks anew
                if dropped and not any(entry.task.approved for entry in dropped):
                    self.places.forget(request_id)  # nothing ran: a new plan pins its own base
        await self._notify()

    def _alive(self) -> int:
        # A session that did not start (a remote workspace, one with start commands, a failure)
        # holds no process and no slot; its entry stays so that it is not tried again each event.
        return sum(1 for entry in self._entries.values() if entry.holds())

    def take(self, task_id: str, workspace: str) -> WarmEntry | None:
        """Hand out the task's warm session, if it has one (the caller runs or discards it)."""
        entry = self._entries.get(task_id)
        if entry is not None:
            self._spent.setdefault(entry.request_id, set()).add(task_id)
        if entry is None or entry.task.workspace != workspace:
            return None
        self.served += 1
        return self._entries.pop(task_id)

    async def discard(self, entry: WarmEntry) -> None:
        """End a session that was handed out and will not run (its task was cancelled first)."""
        self.served -= 1
        await self._drop(entry)

    async def close(self) -> None:
        """Drop every warm session (shutdown): their CLIs end, their worktrees go."""
        self._closed = True
        entries, self._entries = list(self._entries.values()), {}
        await asyncio.gather(*(self._drop(entry) for entry in entries))
        await self._notify()

    async def _start(self, request_id: str, task: WarmTask) -> Warmed | None:
        try:
            workspace = self.trees.tree().workspace(task.workspace)
        except TreeError:
            return None
        if workspace.path is None or task.workspace in self.trees.remote_workspaces():
            return None  # a remote workspace's session runs on its agent's host
        if not task.approved and (found := start_commands(workspace.path)):
            log.info("not warming %s before approval: its settings run commands (%s)", task.workspace, found[0])
            return None
        # Made to its end even when the warm session is dropped meanwhile, then removed: a worktree
        # cut off half-made would be left behind.
        placing = asyncio.ensure_future(self.places.place_ahead(request_id, task.task_id, workspace))
        try:
            placement = await asyncio.shield(placing)
        except PreparationFailed as err:
            log.info("not warming %s: %s", task.task_id, err)
            return None
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.places.drop_ahead(await placing)
            raise
        try:
            top = placement.worktree.path if placement.worktree is not None else placement.cwd
            if not task.approved and start_commands(placement.cwd, top):
                await self.places.drop_ahead(placement)
                return None
            spec = self.sessions.workspace_session(
                "", WORKSPACE_INSTRUCTIONS, placement.cwd, relayed=self.relayed, git=placement.agent_git,
            )
            agent = WarmAgent(spec)
            await agent.start()
        except AgentError as err:
            log.warning("could not warm %s (it starts when due): %s", task.task_id, err.message)
            await self.places.drop_ahead(placement)
            return None
        except BaseException:
            await asyncio.shield(self.places.drop_ahead(placement))
            raise
        return placement, agent

    async def _drop(self, entry: WarmEntry) -> None:
        entry.starting.cancel()  # still starting: it ends its own CLI and worktree
        warmed: Warmed | None = None
        with contextlib.suppress(asyncio.CancelledError, Exception):
            warmed = await entry.starting
        if warmed is not None:
            placement, agent = warmed
            try:
                await agent.close()
            finally:
                with contextlib.suppress(Exception):
                    await self.places.drop_ahead(placement)
