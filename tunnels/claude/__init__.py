"""One agent session through claude-agent-sdk and the real Claude Code CLI.

`run_agent(AgentSpec(...))` runs a read-only or a workspace session with a timeout, prompt
cancellation, progress callbacks and a permission policy enforced in code; `run_workspace_task`
also validates the workspace agent's `TaskResult`.
"""

from claude_tunnels.actors.agent_errors import AgentError, AgentFailed, AgentOutputInvalid, AgentTimeout
from claude_tunnels.tunnels.claude.permissions import (
    DEFAULT_BASH_ALLOW,
    BashRules,
    Decision,
    PermissionPolicy,
)
from claude_tunnels.tunnels.claude.runner import WarmAgent, run_agent, run_workspace_task
from claude_tunnels.tunnels.claude.spec import AgentOutcome, AgentSpec, Progress

__all__ = [
    "DEFAULT_BASH_ALLOW",
    "AgentError",
    "AgentFailed",
    "AgentOutcome",
    "AgentOutputInvalid",
    "AgentSpec",
    "AgentTimeout",
    "BashRules",
    "Decision",
    "PermissionPolicy",
    "Progress",
    "WarmAgent",
    "run_agent",
    "run_workspace_task",
]
