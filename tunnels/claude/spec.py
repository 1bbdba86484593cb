"""What an agent session is asked to do, what it reports while running, and what it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from claude_tunnels.actors.ports import Progress as Progress  # the port's value, re-exported for the runner
from claude_tunnels.events.values import Usage
from claude_tunnels.tunnels.claude.permissions import BashRules, RelayClass
from claude_tunnels.tunnels.claude.sandbox import SandboxSpec
from claude_tunnels.tunnels.git.agent_gitdir import TaskGit

AgentKind = Literal["readonly", "workspace"]


@dataclass(frozen=True)
class AgentSpec:
    """One agent session.

    `readonly` agents (router, planner, direct answers) get only Read/Glob/Grep and the caller's
    `system_prompt`; `workspace` agents get Claude Code's own prompt with `instructions` appended,
    write and Bash tools under `PermissionPolicy(cwd, bash)`, and must answer a `TaskResult`.
    `env` is extra environment for the CLI (e.g. `ScriptedModelServer.env()`); nothing else of
    this process's environment reaches it but a short allowlist (`tunnels.claude.environment`).
    With `sandbox_dir` each run gets a fresh `HOME`, `CLAUDE_CONFIG_DIR` and `TMPDIR` under it,
    removed afterwards. The workspace's CLAUDE.md, settings and skills load; its MCP servers never
    start, and its command hooks run only with `project_hooks=True`.

    Workspace agents run their Bash commands in Claude Code's OS sandbox (`sandbox`; None only
    when the settings turn it off). No agent reads the `protected` areas (nor the system's own
    secrets), except the path down to its `cwd`. `relay` names the classes of action asked of a
    person instead of refused.
    """

    prompt: str
    cwd: Path
    kind: AgentKind = "readonly"
    system_prompt: str = ""
    """Readonly: the whole system prompt. Workspace: appended to Claude Code's prompt."""
    output_schema: dict[str, Any] | None = None
    """Readonly only: JSON schema of the structured answer (workspace agents answer TaskResult)."""
    model: str | None = None
    max_turns: int = 30
    timeout_s: float = 600.0
    max_budget_usd: float | None = None
    """The session's cost budget in USD (the CLI's `--max-budget-usd`); None: no budget."""
    env: Mapping[str, str] = field(default_factory=dict)
    cli_path: str | None = None
    bash: BashRules = field(default_factory=BashRules)
    sandbox_dir: Path | None = None
    project_hooks: bool = False
    """Run the command hooks of the workspace's `.claude/settings.json` (outside the policy)."""
    sandbox: SandboxSpec | None = field(default_factory=SandboxSpec)
    """The OS sandbox around Bash (workspace agents); None runs commands unconfined."""
    protected: tuple[Path, ...] = ()
    """Areas the agent may not read (the tree, the state and archive folders…)."""
    visible: tuple[Path, ...] = ()
    """Folders that stay readable even inside a protected area."""
    git: TaskGit | None = None
    """A task in a git worktree: the agent's git commands use its own git directory (readable and
    writable), the repository's shared `.git` stays readable and is never writable, and the git
    rules let it add and commit on its own branch (`git_rules`)."""
    relay: frozenset[RelayClass] = frozenset()
    """Classes of action asked of a person (through `run_agent(ask=...)`) instead of refused."""

    @property
    def instructions(self) -> str:
        """The workspace agent's appended instructions (same text as `system_prompt`)."""
        return self.system_prompt


@dataclass(frozen=True)
class AgentOutcome:
    """What a finished session returned.

    `text` is the final text answer; `structured_output` the JSON answer when a schema was set;
    `denied` one line per tool call the permission policy refused.
    """

    text: str
    structured_output: Any | None
    usage: Usage
    session_id: str
    denied: tuple[str, ...] = ()
