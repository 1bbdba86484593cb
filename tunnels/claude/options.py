"""`ClaudeAgentOptions` for the two kinds of agent session."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from claude_agent_sdk import ClaudeAgentOptions

from claude_tunnels.events.values import TaskResult
from claude_tunnels.tunnels.claude.environment import AgentEnvironment
from claude_tunnels.tunnels.claude.guard import ToolGuard
from claude_tunnels.tunnels.claude.sandbox import read_deny_rules, sandbox_option
from claude_tunnels.tunnels.claude.spec import AgentSpec

READONLY_TOOLS: tuple[str, ...] = ("Read", "Glob", "Grep")
"""The only tools a read-only agent has (`tools`, so the others do not exist for it at all)."""

WORKSPACE_TOOLS: tuple[str, ...] = (
    "Read", "Glob", "Grep", "Write", "Edit", "MultiEdit", "NotebookEdit", "Bash", "TodoWrite",
)  # fmt: skip
"""Tools a workspace agent has; names this CLI build lacks (MultiEdit, TodoWrite) are ignored."""


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every local `#/$defs/…` reference replaced by its definition.

    The Messages API wants a tool's input schema to be an object schema at the top level, and
    `msgspec.json.schema` returns a bare `{"$ref": …, "$defs": …}` (recursive types unsupported).
    """
    defs: dict[str, Any] = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:
                    raise ValueError(f"recursive schema reference {ref}")
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[name], (*seen, name)), **resolve(rest, seen)}
            return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


def task_result_schema() -> dict[str, Any]:
    """The JSON schema of `events.values.TaskResult`, references inlined."""
    return inline_refs(msgspec.json.schema(TaskResult))


def session_settings(spec: AgentSpec, launch: AgentEnvironment, denied_reads: Sequence[Path]) -> dict[str, Any]:
    """The `--settings` layer of a session: no project hooks, hidden paths, the model key helper,
    and the OS sandbox of a workspace agent."""
    settings: dict[str, Any] = dict(launch.settings)
    if not spec.project_hooks:
        # A workspace's settings hooks are commands the policy never sees. Only our in-process hook stays.
        settings["disableAllHooks"] = True
    if denied_reads:
        # Read deny rules hide these paths from the Read tool and, inside the sandbox, from Bash.
        settings["permissions"] = {"deny": read_deny_rules(denied_reads)}
    if spec.kind == "workspace" and spec.sandbox is not None:
        git = spec.git
        settings["sandbox"] = sandbox_option(spec.sandbox, writable=(git.own_dir,) if git else (), read_only=git.read_only() if git else ())
    return settings


def build_options(
    spec: AgentSpec,
    guard: ToolGuard,
    launch: AgentEnvironment,
    stderr: Callable[[str], None],
    denied_reads: Sequence[Path] = (),
    settings_file: Path | None = None,
) -> ClaudeAgentOptions:
    """Options for `spec`; `guard` enforces the permission policy, `launch` starts the CLI with
    its allowlisted environment, `denied_reads` are hidden from the session.

    With `settings_file` the settings are written there and the CLI is given the path: one
    command-line argument may hold at most 128 KiB, and a large tree's deny rules pass that."""
    settings = json.dumps(session_settings(spec, launch, denied_reads))
    if settings_file is not None:
        settings_file.write_text(settings, encoding="utf-8")
    common: dict[str, Any] = {
        "cwd": str(spec.cwd),
        "setting_sources": ["project"],
        "permission_mode": "default",
        "max_turns": spec.max_turns,
        "max_budget_usd": spec.max_budget_usd,
        "model": spec.model,
        "env": dict(launch.env),
        "cli_path": launch.cli_path,
        "stderr": stderr,
        "hooks": guard.hooks(),
        # A workspace's .mcp.json servers are commands the policy never sees; the CLI starts them
        # even for read-only agents.
        "strict_mcp_config": True,
        "settings": str(settings_file) if settings_file is not None else settings,
    }
    if spec.kind == "readonly":
        # No can_use_tool: a read outside cwd is then refused by the CLI itself.
        output = _json_schema_format(spec.output_schema) if spec.output_schema else None
        return ClaudeAgentOptions(
            **common,
            tools=list(READONLY_TOOLS),
            system_prompt=spec.system_prompt,
            output_format=output,
        )
    return ClaudeAgentOptions(
        **common,
        tools=list(WORKSPACE_TOOLS),
        system_prompt={"type": "preset", "preset": "claude_code", "append": spec.instructions},
        output_format=_json_schema_format(task_result_schema()),
        can_use_tool=guard.can_use_tool,
    )


def _json_schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "schema": inline_refs(schema)}


def sandbox_env(run_dir: Path) -> dict[str, str]:
    """`HOME`, `CLAUDE_CONFIG_DIR` and `TMPDIR` under `run_dir` (the folders must exist)."""
    return {
        "HOME": str(run_dir / "home"),
        "CLAUDE_CONFIG_DIR": str(run_dir / "config"),
        "TMPDIR": str(run_dir / "tmp"),
    }
