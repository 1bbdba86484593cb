"""The workspace agent's Claude Code sessions (`remote_agent.ports.Sessions`).

A task runs exactly as a local one would: the prompt and instructions are the orchestrator's
(carried in the task command), the permission policy and the OS sandbox the same, its writes
confined to the agent's `--path`. The agent edits that folder in place (no worktree, no rollback);
what it changed comes from a manifest the agent process takes before and after, and the
workspace's declared test is run by this process after the session, as for a local task outside git.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from claude_tunnels.actors.agent_errors import AgentError, AgentTimeout
from claude_tunnels.actors.ports import Asker, PermissionNote, Progress
from claude_tunnels.actors.tree.claude_md import read_claude_md
from claude_tunnels.events.values import FileDiff, TaskFacts, TaskResult
from claude_tunnels.remote_agent.protocol import Finished, TaskCommand
from claude_tunnels.remote_agent.task import prompt_of
from claude_tunnels.tunnels.claude import DEFAULT_BASH_ALLOW, AgentSpec, BashRules, run_workspace_task
from claude_tunnels.tunnels.claude.sandbox import SandboxSpec
from claude_tunnels.tunnels.git import manifest
from claude_tunnels.tunnels.git.claims import MAX_FILES, declared_test_run, mismatches


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
        before = await asyncio.to_thread(manifest.take, cwd)
        # Read before the session: the test is the one the workspace declared, not one the agent wrote in.
        claude_md = await asyncio.to_thread(read_claude_md, cwd) or ""
        try:
            result, outcome = await run_workspace_task(spec, on_progress, on_decision=on_decision, ask=ask)
        except AgentTimeout as err:
            return Finished(task_id=task_id, outcome="timed_out", error=str(err), timeout_s=err.timeout_s)
        except AgentError as err:  # a cost budget reached among them: what it spent goes back too
            return Finished(task_id=task_id, outcome="failed", error=err.message, usage=err.usage)
        facts = await in_place_facts(command, cwd, before, claude_md, result, protected)
        return Finished(task_id=task_id, outcome="succeeded", result=result, usage=outcome.usage, facts=facts)


async def in_place_facts(
    command: TaskCommand, cwd: Path, before: manifest.Manifest, claude_md: str, result: TaskResult, hidden: Sequence[Path],
) -> TaskFacts:
    """What a task did to the folder it edited in place, found by this process: the files changed
    since `before` and the run of the test `claude_md` declared before the session (in the OS
    sandbox when the task had it)."""
    after = await asyncio.to_thread(manifest.take, cwd)
    files = [FileDiff(path=path) for path in manifest.changed(before, after)][:MAX_FILES]
    test = await declared_test_run(
        claude_md, cwd=cwd, writable=cwd, hidden=hidden, sandboxed=command.sandbox, timeout_s=min(command.timeout_s or 900, 900),
    )
    return TaskFacts(files=files, test=test, mismatches=mismatches(result, files, test))
