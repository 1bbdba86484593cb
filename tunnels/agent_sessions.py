"""The workspace agent's Claude Code sessions (`remote_agent.ports.Sessions`).

A task runs exactly as a local one would: the prompt and instructions are the orchestrator's
(carried in the task command), the permission policy and the OS sandbox the same, its writes
confined to the agent's `--path`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from claude_tunnels.actors.agent_errors import AgentError, AgentTimeout
from claude_tunnels.actors.ports import Asker, PermissionNote, Progress
from claude_tunnels.remote_agent.protocol import Finished, TaskCommand
from claude_tunnels.remote_agent.task import prompt_of
from claude_tunnels.tunnels.claude import DEFAULT_BASH_ALLOW, AgentSpec, BashRules, run_workspace_task
from claude_tunnels.tunnels.claude.sandbox import SandboxSpec


def task_spec(
    command: TaskCommand, cwd: Path, *, env: Mapping[str, str], sandbox_dir: Path | None, cli_path: str | None = None,
    protected: tuple[Path, ...] = (),
) -> AgentSpec:
    """The workspace session that runs `command` in `cwd`; `protected` (the agent's state and
    credential files) is never readable by it."""
    prompt, instructions = prompt_of(command)
    bash = command.bash
    return AgentSpec(
        prompt=prompt, cwd=cwd, kind="workspace", system_prompt=instructions, model=command.model,
        max_turns=command.max_turns, timeout_s=command.timeout_s, max_budget_usd=command.max_budget_usd, env=dict(env),
        cli_path=cli_path, sandbox_dir=sandbox_dir, protected=protected, relay=frozenset(command.relay),
        bash=BashRules(mode=bash.mode, allow=DEFAULT_BASH_ALLOW if bash.allow is None else bash.allow, deny=bash.deny),
        sandbox=SandboxSpec(network_allow=tuple(command.network_allow)) if command.sandbox else None,
    )


class ClaudeSessions:
    """Runs tasks with the real Claude Code CLI, with the agent's environment and session homes."""

    def __init__(self, env: Mapping[str, str], homes: Path | None, cli_path: str | None = None) -> None:
        self.env = dict(env)
        self.homes = homes
        self.cli_path = cli_path

    async def run(
        self, command: TaskCommand, cwd: Path, *, protected: tuple[Path, ...], on_progress: Callable[[Progress], None],
        on_decision: Callable[[PermissionNote], None], ask: Asker | None,
    ) -> Finished:
        """Run the session; how it ended, as the report to send (cancellation propagates)."""
        spec = task_spec(command, cwd, env=self.env, sandbox_dir=self.homes, cli_path=self.cli_path, protected=protected)
        task_id = command.task_id
        try:
            result, outcome = await run_workspace_task(spec, on_progress, on_decision=on_decision, ask=ask)
        except AgentTimeout as err:
            return Finished(task_id=task_id, outcome="timed_out", error=str(err), timeout_s=err.timeout_s)
        except AgentError as err:  # a cost budget reached among them: what it spent goes back too
            return Finished(task_id=task_id, outcome="failed", error=err.message, usage=err.usage)
        return Finished(task_id=task_id, outcome="succeeded", result=result, usage=outcome.usage)
