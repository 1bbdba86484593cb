"""Enforcing a `PermissionPolicy` inside the Claude Code CLI through the SDK's callbacks.

`can_use_tool` alone is not enough: the CLI calls it only when its own rules say "ask", and it
auto-allows commands it deems read-only (`ls -la`, `pwd && ls`), sandboxed Bash commands, and
anything a workspace's `.claude/settings.json` pre-approves. A PreToolUse hook sees every tool
call, so the policy is applied there, and again in `can_use_tool` for what the CLI asks about
(network access from the sandbox arrives only there, as `SandboxNetworkAccess`). A decision made
for one tool call is remembered, so a person is never asked twice about it.

Every decision worth keeping (anything but plain reads) is reported to `on_decision`; what the
policy leaves to a person goes to `ask`, whose answer decides. A PostToolUse hook reports what the
OS sandbox refused inside a command that the policy let run (a write outside the workspace).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from claude_agent_sdk import (
    HookContext,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)
from claude_agent_sdk.types import HookEvent, HookInput, HookJSONOutput, PreToolUseHookSpecificOutput

from claude_tunnels.actors.ports import Asker, PermissionNote, Question
from claude_tunnels.tunnels.claude.permissions import NETWORK_TOOL, READ_ONLY_TOOLS, Decision, PermissionPolicy
from claude_tunnels.tunnels.claude.sandbox import VIOLATIONS_TAG, sandbox_failed

DETAIL_CHARS = 300
_VIOLATIONS = re.compile(r"<sandbox_violations>(.*?)</sandbox_violations>", re.DOTALL)
_READ_ONLY_FS = re.compile(r"[^\n]*Read-only file system[^\n]*")
_CLI_REFUSALS = ("denied by your permission settings", "covered by a Read deny rule", "has been denied")
"""How the CLI words a refusal by the deny rules we give it (checked before our PreToolUse hook)."""
_HOOK_TIMEOUT_S = 24 * 3600.0  # a hook that waits for a person must not be cut off by the CLI


class ToolGuard:
    """The SDK-facing side of a policy; remembers each decision (one per tool call)."""

    def __init__(
        self, policy: PermissionPolicy, *, on_decision: Callable[[PermissionNote], None] | None = None,
        ask: Asker | None = None,
    ) -> None:
        self.policy = policy
        self.on_decision = on_decision
        self.ask = ask
        self._verdicts: dict[str, bool] = {}
        self._denied: list[str] = []
        self._denied_hosts: set[str] = set()
        self.sandbox_disabled = False
        """Set when the CLI said it runs commands without the sandbox: every Bash call is then refused."""

    @property
    def denied(self) -> tuple[str, ...]:
        """Each refused tool call as `Tool: reason`, in order (policy, person and sandbox refusals)."""
        return tuple(self._denied)

    def hooks(self) -> dict[HookEvent, list[HookMatcher]]:
        """The `hooks` option: PreToolUse for every tool, PostToolUse for Bash."""
        return {
            "PreToolUse": [HookMatcher(matcher=None, hooks=[self.pre_tool_use], timeout=_HOOK_TIMEOUT_S)],
            "PostToolUse": [HookMatcher(matcher="Bash", hooks=[self.post_tool_use])],
            "PostToolUseFailure": [HookMatcher(matcher="Bash", hooks=[self.post_tool_use])],
        }

    async def pre_tool_use(
        self, hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """Deny what the policy refuses, ask a person what it leaves open, let the rest through."""
        data: dict[str, Any] = dict(hook_input)
        tool_name = str(data.get("tool_name", ""))
        tool_input = data.get("tool_input") if isinstance(data.get("tool_input"), dict) else {}
        key = _key(tool_name, tool_use_id or data.get("tool_use_id"))
        allowed, reason, asked = await self._judge(key, tool_name, tool_input)  # type: ignore[arg-type]
        if not allowed:
            return _hook_output("deny", reason)
        return _hook_output("allow", reason) if asked else {}

    async def can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        """The `can_use_tool` option: the same policy (and the same answer) for what the CLI asks about."""
        # A sandboxed command's network request carries the command's tool_use_id: the key holds the tool too.
        key = _key(tool_name, context.tool_use_id)
        allowed, reason, _ = await self._judge(key, tool_name, tool_input)
        return PermissionResultAllow() if allowed else PermissionResultDeny(message=reason)

    async def post_tool_use(
        self, hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """Report what the OS sandbox refused inside a command the policy let run."""
        data: dict[str, Any] = dict(hook_input)
        response = data.get("tool_response", data.get("error"))
        text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
        if isinstance(response, dict):
            text = "\n".join(str(response.get(k) or "") for k in ("stdout", "stderr")) or text
        command = str((data.get("tool_input") or {}).get("command", ""))
        if sandbox_failed(text) and not self.sandbox_disabled:
            # The CLI then runs later commands unconfined ("disabled for the rest of this session").
            self.sandbox_disabled = True
            self._note("Bash", command, Decision(False, "the OS sandbox failed to start; Bash is refused from now on", "sandbox.inactive"), by="sandbox")
        for line in _refusals(text):
            if line.startswith("deny network-outbound") and any(host in line for host in self._denied_hosts):
                continue  # already recorded as the policy's refusal of that host
            self._note("Bash", command, Decision(False, line, "sandbox"), by="sandbox")
        return {}

    def tool_failed(self, tool_use_id: str, tool_name: str, tool_input: dict[str, Any], error: str) -> None:
        """Report a refusal by the CLI's own rules (a Read deny rule), which it applies before our
        PreToolUse hook: seen only in the failed tool result. Our own refusals are not reported twice."""
        if self._verdicts.get(_key(tool_name, tool_use_id)) is False or not any(m in error for m in _CLI_REFUSALS):
            return
        reason = " ".join(re.sub(r"</?tool_use_error>", "", error).split())[:300]
        self._note(tool_name, summarize(tool_name, tool_input), Decision(False, reason, "claude.deny_rule"))

    async def _judge(self, key: str, tool_name: str, tool_input: dict[str, Any]) -> tuple[bool, str, bool]:
        """(allowed, reason, asked a person) for one tool call, decided once per `key`."""
        if key and key in self._verdicts:
            return self._verdicts[key], "decided earlier for this tool call", False
        if tool_name == "Bash" and self.sandbox_disabled:
            decision = Decision(False, "the OS sandbox is not active in this session; Bash is refused", "sandbox.inactive")
        else:
            decision = self.policy.decide(tool_name, tool_input)
        detail = summarize(tool_name, tool_input)
        asked = False
        if decision.ask and self.ask is not None:
            answer = await self.ask(Question(tool_name, detail, decision.reason, decision.rule))
            asked = True
            reason = answer.reason or (f"allowed by {answer.by}" if answer.allowed else f"denied by {answer.by}")
            allowed = answer.allowed
            if not allowed:
                self._remember_denial(tool_name, tool_input, reason)
        else:
            allowed, reason = decision.allow, decision.reason
            self._note(tool_name, detail, decision)
        if key:
            self._verdicts[key] = allowed
        return allowed, reason, asked

    def _note(self, tool_name: str, detail: str, decision: Decision, by: str = "policy") -> None:
        if decision.allow and tool_name in READ_ONLY_TOOLS:
            return  # plain reads inside the allowed folders are not worth an event each
        if not decision.allow:
            self._remember_denial(tool_name, {"host": detail} if tool_name == NETWORK_TOOL else {}, decision.reason)
        if self.on_decision is not None:
            self.on_decision(PermissionNote(tool_name, detail, decision.allow, decision.reason, decision.rule, by))

    def _remember_denial(self, tool_name: str, tool_input: dict[str, Any], reason: str) -> None:
        self._denied.append(f"{tool_name}: {reason}")
        if tool_name == NETWORK_TOOL and isinstance(tool_input.get("host"), str):
            self._denied_hosts.add(tool_input["host"])


def _key(tool_name: str, tool_use_id: object) -> str:
    """What a verdict is remembered by: one tool call of one tool (empty: not remembered)."""
    return f"{tool_name}:{tool_use_id}" if tool_use_id else ""


def summarize(tool_name: str, tool_input: dict[str, Any]) -> str:
    """A short, one-line account of what a tool call asks for (its command, path, host…)."""
    for key in ("command", "file_path", "notebook_path", "host", "pattern", "path", "url"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            flat = " ".join(value.split())
            return flat if len(flat) <= DETAIL_CHARS else flat[: DETAIL_CHARS - 1] + "…"
    return ""


def _refusals(text: str) -> list[str]:
    """The sandbox's refusals in a tool result: its violation lines and read-only-file-system errors."""
    found: list[str] = []
    if VIOLATIONS_TAG in text:
        for block in _VIOLATIONS.findall(text):
            found.extend(line.strip() for line in block.splitlines() if line.strip())
    for match in _READ_ONLY_FS.findall(text):
        line = f"write blocked by the sandbox (outside the workspace): {match.strip()[:200]}"
        if line not in found:
            found.append(line)
    return found


def _hook_output(decision: Literal["allow", "deny"], reason: str) -> HookJSONOutput:
    specific: PreToolUseHookSpecificOutput = {
        "hookEventName": "PreToolUse", "permissionDecision": decision, "permissionDecisionReason": reason,
    }
    return {"hookSpecificOutput": specific}
