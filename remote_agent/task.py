"""Running one `TaskCommand` in the agent's workspace, exactly as a local workspace agent would.

The prompt, the instructions and the permission policy are the orchestrator's own
(`tunnels.runtime.prompts`, `tunnels.claude`): a remote task is indistinguishable from a local
one to the model, and its writes are confined to `--path` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from events.values import PlannedTask
from remote_agent.protocol import Finished, TaskCommand
from tunnels.claude import (
    DEFAULT_BASH_ALLOW,
    AgentError,
    AgentSpec,
    AgentTimeout,
    BashRules,
    Progress,
    run_workspace_task,
)
from tunnels.claude.guard import Asker, PermissionNote
from tunnels.claude.sandbox import SandboxSpec
from tunnels.runtime.prompts import WORKSPACE_INSTRUCTIONS, upstream_block, workspace_prompt


def task_spec(
    command: TaskCommand, cwd: Path, *, env: Mapping[str, str], sandbox_dir: Path | None, cli_path: str | None = None,
    protected: Sequence[Path] = (),
) -> AgentSpec:
    """The workspace session that runs `command` in `cwd`; `protected` (the agent's state and
    credential files) is never readable by it."""
    upstream = upstream_block([(u.workspace, u.result) for u in command.upstream], command.upstream_context_chars)
    planned = PlannedTask(workspace=command.workspace, task=command.task)
    bash = command.bash
    return AgentSpec(
        prompt=workspace_prompt(planned, command.request_text, upstream, command.max_message_chars),
        cwd=cwd,
        kind="workspace",
        system_prompt=WORKSPACE_INSTRUCTIONS,
        model=command.model,
        max_turns=command.max_turns,
        timeout_s=command.timeout_s,
        max_budget_usd=command.max_budget_usd,
        env=dict(env),
        cli_path=cli_path,
        bash=BashRules(mode=bash.mode, allow=DEFAULT_BASH_ALLOW if bash.allow is None else bash.allow, deny=bash.deny),
        sandbox_dir=sandbox_dir,
        sandbox=SandboxSpec(network_allow=tuple(command.network_allow)) if command.sandbox else None,
        protected=tuple(protected),
        relay=frozenset(command.relay),
    )


async def run_task(
    spec: AgentSpec, task_id: str, on_progress: Callable[[Progress], None], *,
    on_decision: Callable[[PermissionNote], None] | None = None, ask: Asker | None = None,
) -> Finished:
    """Run the session; how it ended, as the report to send (cancellation propagates)."""
    try:
        result, outcome = await run_workspace_task(spec, on_progress, on_decision=on_decision, ask=ask)
    except AgentTimeout as err:
        return Finished(task_id=task_id, outcome="timed_out", error=str(err), timeout_s=err.timeout_s)
    except AgentError as err:  # a cost budget reached among them: what it spent goes back too
        return Finished(task_id=task_id, outcome="failed", error=err.message, usage=err.usage)
    return Finished(task_id=task_id, outcome="succeeded", result=result, usage=outcome.usage)
