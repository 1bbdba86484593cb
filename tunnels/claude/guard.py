"""Enforcing a `PermissionPolicy` inside the Claude Code CLI through the SDK's callbacks.

`can_use_tool` alone is not enough: the CLI calls it only when its own rules say "ask", and it
auto-allows commands it deems read-only (`ls -la`, `pwd && ls`) and anything a workspace's
`.claude/settings.json` pre-approves. A PreToolUse hook sees every tool call, so the policy is
applied there (deny) and again in `can_use_tool` (allow or deny) for the calls the CLI asks about.
"""

from __future__ import annotations

from typing import Any

from claude_agent_sdk import (
    HookContext,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)
from claude_agent_sdk.types import HookEvent, HookInput, HookJSONOutput

from tunnels.claude.permissions import PermissionPolicy


class ToolGuard:
    """The SDK-facing side of a policy; remembers what it denied (one line per tool call)."""

    def __init__(self, policy: PermissionPolicy) -> None:
        self.policy = policy
        self._denied: dict[str, str] = {}

    @property
    def denied(self) -> tuple[str, ...]:
        """Each denied tool call as `Tool: reason`, in order."""
        return tuple(self._denied.values())

    def hooks(self) -> dict[HookEvent, list[HookMatcher]]:
        """The `hooks` option: a PreToolUse hook for every tool."""
        return {"PreToolUse": [HookMatcher(matcher=None, hooks=[self.pre_tool_use])]}

    async def pre_tool_use(
        self, hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """Deny a call the policy refuses; otherwise let the CLI's normal permission flow run."""
        data: dict[str, Any] = dict(hook_input)
        tool_name = str(data.get("tool_name", ""))
        tool_input = data.get("tool_input")
        decision = self.policy.decide(tool_name, tool_input if isinstance(tool_input, dict) else {})
        if decision.allow:
            return {}
        self._remember(tool_use_id or data.get("tool_use_id"), tool_name, decision.reason)
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": decision.reason,
            }
        }

    async def can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        """The `can_use_tool` option: the same policy for the calls the CLI asks about."""
        decision = self.policy.decide(tool_name, tool_input)
        if decision.allow:
            return PermissionResultAllow()
        self._remember(context.tool_use_id, tool_name, decision.reason)
        return PermissionResultDeny(message=decision.reason)

    def _remember(self, tool_use_id: Any, tool_name: str, reason: str) -> None:
        key = str(tool_use_id) if tool_use_id else f"#{len(self._denied)}"
        self._denied.setdefault(key, f"{tool_name}: {reason}")
