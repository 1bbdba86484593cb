"""Claude Code sessions as the flow's ports: read-only advisors and the local task runner.

`SessionSettings` turns `orchestrator.yaml` into `AgentSpec`s (models, limits, the CLI, its
environment, the sandbox, what stays hidden). `ClaudeAdvisors` runs the router's, planner's and
direct answer's read-only sessions (`actors.ports.Advisors`); `LocalExecutor` runs workspace
tasks in this host's folders (`actors.ports.TaskExecutor`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from claude_tunnels.actors.agent_errors import AgentError, AgentTimeout
from claude_tunnels.actors.ports import (
    Consultation,
    Consulted,
    Failed,
    Succeeded,
    TaskHandle,
    TaskOrder,
    TimedOut,
    TreeSource,
)
from claude_tunnels.actors.prompts import WORKSPACE_INSTRUCTIONS
from claude_tunnels.actors.tree import TreeError, Workspace
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.claude import AgentSpec, BashRules, WarmAgent, run_agent, run_workspace_task
from claude_tunnels.tunnels.claude.permissions import DEFAULT_BASH_ALLOW
from claude_tunnels.tunnels.claude.sandbox import SandboxSpec
from claude_tunnels.tunnels.git.agent_gitdir import TaskGit
from claude_tunnels.tunnels.git.run import GitError
from claude_tunnels.tunnels.git.tasks import GitTasks, Placement, PreparationFailed
from claude_tunnels.tunnels.warm_pool import WarmEntry, WarmPool


class SessionSettings:
    """What every session of this orchestrator is started with, from the settings."""

    def __init__(self, loaded: LoadedSettings, env: Mapping[str, str]) -> None:
        self.loaded = loaded
        settings = loaded.settings
        self.limits = settings.limits
        self.models = settings.models
        self.env = {**settings.claude.env, **env}
        self.cli_path = settings.claude.cli_path
        self.homes = loaded.state_dir / "agent-homes" if settings.claude.isolate_home else None
        permissions = settings.permissions
        bash = permissions.bash
        self.bash = BashRules(mode=bash.mode, allow=DEFAULT_BASH_ALLOW if bash.allow is None else bash.allow, deny=bash.deny)
        self.sandbox = SandboxSpec(network_allow=tuple(permissions.network.allow)) if permissions.sandbox else None
        self.relay = frozenset(permissions.relay.actions)
        # Never readable by an agent: the orchestrator's state (event store, seeds), the chat
        # credentials, and, for workspace agents, the rest of the tree.
        self.private_areas = (loaded.state_dir, loaded.archive_dir)

    def readonly(self, consultation: Consultation) -> AgentSpec:
        """A read-only session (Read, Glob, Grep) at the root, for one role."""
        limits = self.limits
        model, timeout_s = {
            "router": (self.models.router, limits.router_timeout_s),
            "planner": (self.models.planner, limits.planner_timeout_s),
            "direct": (self.models.direct, limits.direct_timeout_s),
        }[consultation.role]
        return AgentSpec(
            prompt=consultation.prompt, cwd=self.loaded.root, kind="readonly", system_prompt=consultation.system,
            output_schema=consultation.schema, model=model, max_turns=limits.readonly_max_turns, timeout_s=timeout_s,
            env=self.env, cli_path=self.cli_path, sandbox_dir=self.homes, protected=self.private_areas,
        )

    def workspace(self, order: TaskOrder, cwd: Path, *, relayed: bool, git: TaskGit | None = None) -> AgentSpec:
        """A workspace session in `cwd` for a dispatched task (stopped at its cost budget); `git`
        for a task in a git worktree (its own git directory, the repository's `.git` read-only)."""
        return self.workspace_session(order.prompt, order.instructions, cwd, relayed=relayed, git=git)

    def workspace_session(self, prompt: str, instructions: str, cwd: Path, *, relayed: bool, git: TaskGit | None = None) -> AgentSpec:
        """A workspace session in `cwd` (see `workspace`); a warm one is given its prompt later."""
        limits = self.limits
        return AgentSpec(
            prompt=prompt, cwd=cwd, kind="workspace", system_prompt=instructions, model=self.models.workspace,
            max_turns=limits.workspace_max_turns, timeout_s=limits.task_timeout_s, env=self.env, cli_path=self.cli_path,
            bash=self.bash, sandbox_dir=self.homes, sandbox=self.sandbox, protected=(self.loaded.root, *self.private_areas),
            relay=self.relay if relayed else frozenset(), max_budget_usd=limits.max_cost_usd_per_task, git=git,
        )


class ClaudeAdvisors:
    """Read-only Claude Code sessions for the router, the planner and direct answers."""

    def __init__(self, sessions: SessionSettings) -> None:
        self.sessions = sessions

    async def consult(self, consultation: Consultation) -> Consulted:
        """Run the session; its structured output (or text) and what it cost."""
        outcome = await run_agent(self.sessions.readonly(consultation))
        return Consulted(output=outcome.structured_output, text=outcome.text, usage=outcome.usage)


class LocalExecutor:
    """Runs workspace tasks in this host's folders, one Claude Code session each."""

    def __init__(
        self, sessions: SessionSettings, trees: TreeSource, places: GitTasks, *, sandbox_problem: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.trees = trees
        self.places = places
        self.sandbox_problem = sandbox_problem
        """Why sessions may not run here (the OS sandbox is required and cannot run), if so."""
        self.agent_name = f"local:{sessions.loaded.root.name}"
        self._tasks: dict[str, asyncio.Task[object]] = {}
        limit = 0 if sandbox_problem is not None else sessions.limits.max_warm_agents
        self.warm = WarmPool(sessions, trees, places, limit=limit, relayed=bool(sessions.relay), busy=self._tasks.__contains__)
        """The tasks' sessions started ahead (`actors.ports.Warmer`)."""

    async def execute(self, order: TaskOrder, handle: TaskHandle) -> None:
        """Run the session to its end and report it (a cancel propagates to the caller)."""
        dispatched = order.dispatched
        task_id = dispatched.task_id
        me = asyncio.current_task()
        if me is not None:
            self._tasks[task_id] = me
        # Taken at once (no await before): the pool then never starts another session for it.
        warm = self.warm.take(task_id, dispatched.workspace)
        if warm is not None and (dispatched.attempt != 1 or order.instructions != WORKSPACE_INSTRUCTIONS):
            await self.warm.discard(warm)
            warm = None
        try:
            if self.sandbox_problem is not None:
                await handle.finish(Failed(self.sandbox_problem))
                return
            try:
                workspace = self.trees.tree().workspace(dispatched.workspace)
                if workspace.path is None:
                    raise TreeError(f"{dispatched.workspace} has no local folder")
            except TreeError as err:
                # A remote workspace whose agent went away is no longer in the tree: say that.
                await handle.finish(Failed(self.trees.offline(order.dispatched.workspace) or str(err)))
                return
            try:
                placement, agent = await self._prepare(order, workspace, warm)
            except PreparationFailed as err:
                await handle.finish(Failed(str(err)))
                return
            warm = None  # handed over: `agent` is ended by its run below
            handle.started(self.agent_name)
            relayed = bool(self.sessions.relay)
            ask = handle.ask if relayed else None
            try:
                # Stored before the agent can touch anything: after a crash, a task still only
                # "dispatched" never ran, and may simply run (`actors.reconcile`).
                await handle.recorded()
                if agent is not None:
                    result, outcome = await agent.run(order.prompt, handle.progress, on_decision=handle.decided, ask=ask)
                else:
                    spec = self.sessions.workspace(order, placement.cwd, relayed=relayed, git=placement.agent_git)
                    result, outcome = await run_workspace_task(spec, handle.progress, on_decision=handle.decided, ask=ask)
            except AgentTimeout as err:
                await self.places.abandon(placement, order, "timed out")
                await handle.finish(TimedOut(err.timeout_s))
            except AgentError as err:
                await self.places.abandon(placement, order, "failed")
                await handle.finish(Failed(err.message, usage=err.usage))
            except asyncio.CancelledError:
                # The user's tree must stay clean whatever stops the task: roll back, then let the cancel go on.
                if agent is not None:
                    await asyncio.shield(agent.close())
                await asyncio.shield(self.places.abandon(placement, order, "cancelled"))
                raise
            else:
                try:
                    facts = await self.places.settle(placement, order, result)
                except GitError as err:
                    await handle.finish(Failed(f"could not record what the task changed: {err}", usage=outcome.usage))
                    return
                await handle.finish(Succeeded(result, outcome.usage, facts))
        finally:
            self._tasks.pop(task_id, None)
            if warm is not None:
                await asyncio.shield(self.warm.discard(warm))

    async def _prepare(self, order: TaskOrder, workspace: Workspace, warm: WarmEntry | None) -> tuple[Placement, WarmAgent | None]:
        """The task's folder, completed now that it is due, and its warm CLI if it had one that
        started (else None: the session starts cold, in a folder placed now)."""
        warmed = await warm.ready() if warm is not None else None
        if warmed is None:
            return await self.places.place(order, workspace), None
        placement, agent = warmed
        try:
            return await self.places.ready(placement, order), agent
        except BaseException:
            await asyncio.shield(agent.close())  # the worktree went with the failed merge
            raise

    def running(self) -> set[str]:
        """The tasks this executor runs right now (their worktrees are in use)."""
        return set(self._tasks)

    async def in_place(self, workspace: str) -> bool:
        """Whether the workspace's tasks edit its folder (outside git, or worktrees turned off)."""
        try:
            found = self.trees.tree().workspace(workspace)
        except TreeError:
            return True
        return found.path is None or not await self.places.isolates(found.path)

    async def roll_back(self, request_id: str, task_id: str, workspace: str) -> bool:
        """After a restart: remove the worktrees an interrupted run of the task left; True when it
        ran in one (its branch is made again from the base when it runs again), False when it
        edited the workspace in place (nothing to roll back to)."""
        try:
            found = self.trees.tree().workspace(workspace)
        except TreeError:
            return False
        return found.path is not None and await self.places.roll_back(request_id, task_id, found.path)

    async def cancel(self, task_id: str, by: str) -> None:
        """Stop the task's session (its runner records the cancel)."""
        task = self._tasks.get(task_id)
        if task is not None:
            task.cancel()
