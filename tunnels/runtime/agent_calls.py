"""The agent sessions of each role, built from the settings (asyncio side)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.loader import LoadedSettings
from events.conversation import Turn
from events.values import Plan, PlannedTask, TaskResult, Usage
from tunnels.claude import AgentSpec, BashRules, Progress, run_agent, run_workspace_task
from tunnels.claude.guard import Asker, PermissionNote
from tunnels.claude.permissions import DEFAULT_BASH_ALLOW
from tunnels.claude.sandbox import SandboxSpec
from tunnels.plans import PLAN_SCHEMA, parse_draft, validate
from tunnels.routing import ROUTE_SCHEMA, RouteAnswer, parse_answer
from tunnels.runtime import prompts
from tunnels.tree import Tree


@dataclass(frozen=True)
class Answered:
    """An agent's validated answer with what it cost."""

    value: Any
    usage: Usage


class AgentCalls:
    """Builds and runs the router, planner, direct-answer and workspace sessions."""

    def __init__(self, loaded: LoadedSettings, env: Mapping[str, str]) -> None:
        self.loaded = loaded
        settings = loaded.settings
        self.limits = settings.limits
        self.models = settings.models
        self.env = {**settings.claude.env, **env}
        self.cli_path = settings.claude.cli_path
        self.sandbox = loaded.state_dir / "agent-homes" if settings.claude.isolate_home else None
        permissions = settings.permissions
        bash = permissions.bash
        self.bash = BashRules(mode=bash.mode, allow=DEFAULT_BASH_ALLOW if bash.allow is None else bash.allow, deny=bash.deny)
        self.os_sandbox = SandboxSpec(network_allow=tuple(permissions.network.allow)) if permissions.sandbox else None
        self.relay = frozenset(permissions.relay.actions)
        # Never readable by an agent: the orchestrator's state (event store, seeds), the chat
        # credentials, and, for workspace agents, the rest of the tree.
        self.private_areas = (loaded.state_dir, loaded.archive_dir)

    def _readonly(self, prompt: str, system: str, *, schema: dict[str, Any] | None, model: str | None, timeout_s: float) -> AgentSpec:
        return AgentSpec(
            prompt=prompt, cwd=self.loaded.root, kind="readonly", system_prompt=system, output_schema=schema,
            model=model, max_turns=self.limits.readonly_max_turns, timeout_s=timeout_s, env=self.env,
            cli_path=self.cli_path, sandbox_dir=self.sandbox, protected=self.private_areas,
        )

    async def route(self, text: str, history: Sequence[Turn], tree: Tree) -> Answered:
        """Which projects (or a question, or none) — for messages that name none."""
        limit = self.limits.max_message_chars
        spec = self._readonly(
            prompts.router_prompt(text, history, tree, limit), prompts.ROUTER_SYSTEM,
            schema=ROUTE_SCHEMA, model=self.models.router, timeout_s=self.limits.router_timeout_s,
        )
        outcome = await run_agent(spec)
        answer: RouteAnswer = parse_answer(outcome.structured_output, tree)
        return Answered(answer, outcome.usage)

    async def plan(self, text: str, revisions: Sequence[str], history: Sequence[Turn], tree: Tree, projects: Sequence[str]) -> Answered:
        """A validated plan for the routed projects."""
        limit = self.limits.max_message_chars
        spec = self._readonly(
            prompts.planner_prompt(text, revisions, history, tree, projects, limit), prompts.PLANNER_SYSTEM,
            schema=PLAN_SCHEMA, model=self.models.planner, timeout_s=self.limits.planner_timeout_s,
        )
        outcome = await run_agent(spec)
        plan: Plan = validate(parse_draft(outcome.structured_output), tree, projects)
        return Answered(plan, outcome.usage)

    async def direct(self, text: str, history: Sequence[Turn]) -> Answered:
        """An answer to a request that needs no project."""
        spec = self._readonly(
            prompts.direct_prompt(text, history, self.limits.max_message_chars), prompts.DIRECT_SYSTEM,
            schema=None, model=self.models.direct, timeout_s=self.limits.direct_timeout_s,
        )
        outcome = await run_agent(spec)
        return Answered(outcome.text.strip() or "(no answer)", outcome.usage)

    async def work(
        self, task: PlannedTask, cwd: Path, request_text: str, upstream: Sequence[tuple[str, TaskResult]],
        on_progress: Callable[[Progress], None], *, on_decision: Callable[[PermissionNote], None] | None = None,
        ask: Asker | None = None,
    ) -> Answered:
        """Run one workspace task; the answer is its `TaskResult`. Permission decisions go to
        `on_decision`; relayed actions are put to a person through `ask`. The session is stopped
        by the CLI at `limits.max_cost_usd_per_task` (an `AgentFailed`)."""
        limit = self.limits.max_message_chars
        spec = AgentSpec(
            prompt=prompts.workspace_prompt(task, request_text, prompts.upstream_block(upstream, self.limits.upstream_context_chars), limit),
            cwd=cwd, kind="workspace", system_prompt=prompts.WORKSPACE_INSTRUCTIONS, model=self.models.workspace,
            max_turns=self.limits.workspace_max_turns, timeout_s=self.limits.task_timeout_s, env=self.env,
            cli_path=self.cli_path, bash=self.bash, sandbox_dir=self.sandbox, sandbox=self.os_sandbox,
            protected=(self.loaded.root, *self.private_areas), relay=self.relay if ask is not None else frozenset(),
            max_budget_usd=self.limits.max_cost_usd_per_task,
        )
        result, outcome = await run_workspace_task(spec, on_progress, on_decision=on_decision, ask=ask)
        return Answered(result, outcome.usage)
