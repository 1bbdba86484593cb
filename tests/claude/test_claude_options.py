"""Options for the two kinds of session, the TaskResult schema, progress lines, error classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from claude_agent_sdk import AssistantMessage, TextBlock, ToolUseBlock

from claude_tunnels.tunnels.claude import (
    AgentFailed,
    AgentSpec,
    AgentTimeout,
    BashRules,
    PermissionPolicy,
    Progress,
    run_workspace_task,
)
from claude_tunnels.tunnels.claude.environment import AgentEnvironment
from claude_tunnels.tunnels.claude.guard import ToolGuard
from claude_tunnels.tunnels.claude.options import build_options, inline_refs, task_result_schema
from claude_tunnels.tunnels.claude.progress import progress_of
from claude_tunnels.tunnels.claude.sandbox import SandboxSpec


def _options(spec: AgentSpec, denied: tuple[Path, ...] = ()):  # type: ignore[no-untyped-def]
    guard = ToolGuard(PermissionPolicy(spec.cwd, BashRules()))
    launch = AgentEnvironment(
        env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, cli_path="/opt/launcher", settings={"apiKeyHelper": "cat /k"}
    )
    return build_options(spec, guard, launch, lambda _: None, denied)


def test_readonly_options_restrict_the_tools_themselves(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"projects": {"type": "array"}}}
    spec = AgentSpec(
        prompt="p",
        cwd=tmp_path,
        system_prompt="You route.",
        output_schema=schema,
        max_turns=3,
        model="claude-x",
    )

    options = _options(spec)

    assert options.tools == ["Read", "Glob", "Grep"]
    assert options.permission_mode == "default"
    assert options.setting_sources == ["project"]
    assert options.system_prompt == "You route."
    assert options.output_format == {"type": "json_schema", "schema": schema}
    assert options.can_use_tool is None
    assert options.hooks is not None and "PreToolUse" in options.hooks
    assert (options.cwd, options.max_turns, options.model) == (str(tmp_path), 3, "claude-x")
    assert options.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert options.strict_mcp_config  # the workspace's .mcp.json servers never start
    assert options.cli_path == "/opt/launcher"  # the launcher that scrubs the environment
    assert json.loads(options.settings or "") == {"disableAllHooks": True, "apiKeyHelper": "cat /k"}
    assert "sandbox" not in json.loads(options.settings or "")  # no Bash, no sandbox needed


def test_workspace_command_hooks_run_only_when_asked(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path, kind="workspace", project_hooks=True)

    assert "disableAllHooks" not in json.loads(_options(spec).settings or "")


def test_hidden_paths_become_read_deny_rules(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path / "ws", kind="workspace")

    settings = json.loads(_options(spec, (Path("/srv/root/ARCHIVE"),)).settings or "")

    assert settings["permissions"]["deny"] == ["Read(//srv/root/ARCHIVE)", "Read(//srv/root/ARCHIVE/**)"]


def test_workspace_agents_run_bash_in_the_os_sandbox_with_no_way_out(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path, kind="workspace", sandbox=SandboxSpec(network_allow=("pypi.org",)))

    sandbox = json.loads(_options(spec).settings or "")["sandbox"]

    assert sandbox == {
        "enabled": True, "autoAllowBashIfSandboxed": True, "allowUnsandboxedCommands": False,
        "network": {"allowedDomains": ["pypi.org"]},
    }
    unsandboxed = AgentSpec(prompt="p", cwd=tmp_path, kind="workspace", sandbox=None)
    assert "sandbox" not in json.loads(_options(unsandboxed).settings or "")


def test_settings_go_through_a_file_when_one_is_given(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path, kind="workspace")
    guard = ToolGuard(PermissionPolicy(spec.cwd, BashRules()))
    launch = AgentEnvironment(env={}, cli_path="/opt/launcher", settings={})
    many = tuple(Path(f"/srv/tree/project-{index:04d}") for index in range(2000))  # past 128 KiB as one argument

    options = build_options(spec, guard, launch, lambda _: None, many, tmp_path / "settings.json")

    assert options.settings == str(tmp_path / "settings.json") and options.sandbox is None
    written = json.loads((tmp_path / "settings.json").read_text())
    assert len(written["permissions"]["deny"]) == 4000 and written["sandbox"]["enabled"] is True


def test_workspace_options_use_claude_code_prompt_policy_and_task_result(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path, kind="workspace", system_prompt="Run the tests.")

    options = _options(spec)

    assert options.system_prompt == {
        "type": "preset",
        "preset": "claude_code",
        "append": "Run the tests.",
    }
    assert options.permission_mode == "default"
    assert options.can_use_tool is not None
    assert "Write" in (options.tools or []) and "WebFetch" not in (options.tools or [])
    assert options.output_format == {"type": "json_schema", "schema": task_result_schema()}


def test_the_cost_budget_goes_to_the_cli_only_when_set(tmp_path: Path) -> None:
    budgeted = AgentSpec(prompt="p", cwd=tmp_path, kind="workspace", max_budget_usd=0.5)

    assert _options(budgeted).max_budget_usd == 0.5
    assert _options(AgentSpec(prompt="p", cwd=tmp_path, kind="workspace")).max_budget_usd is None


def test_the_task_result_schema_is_an_object_schema_without_references() -> None:
    schema = task_result_schema()

    assert schema["type"] == "object"
    assert schema["required"] == ["summary"]
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema
    assert schema["properties"]["test_result"]["enum"] == ["fail", "pass", "skip"]


def test_inline_refs_resolves_nested_references_and_refuses_recursion() -> None:
    nested = {
        "$ref": "#/$defs/A",
        "$defs": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
            "B": {"type": "string"},
        },
    }
    assert inline_refs(nested) == {"type": "object", "properties": {"b": {"type": "string"}}}

    looped = {
        "$ref": "#/$defs/A",
        "$defs": {"A": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}},
    }
    with pytest.raises(ValueError, match="recursive"):
        inline_refs(looped)


def _assistant(*blocks: object) -> AssistantMessage:
    return AssistantMessage(content=list(blocks), model="m")  # type: ignore[arg-type]


def test_progress_lines_are_short_and_relative_to_the_workspace(tmp_path: Path) -> None:
    message = _assistant(
        TextBlock(text="  Let me   look.\n" + "x" * 500),
        ToolUseBlock(id="1", name="Write", input={"file_path": str(tmp_path / "src" / "x.py")}),
        ToolUseBlock(id="2", name="Edit", input={"file_path": "/etc/hosts"}),
        ToolUseBlock(id="3", name="Bash", input={"command": "pytest -q\n" + "y" * 300}),
        ToolUseBlock(id="4", name="Grep", input={"pattern": "TODO"}),
        ToolUseBlock(id="5", name="StructuredOutput", input={"summary": "s"}),
    )

    items = progress_of(message, tmp_path)

    assert items[0].kind == "text" and items[0].detail.startswith("Let me look. xxx")
    assert len(items[0].detail) == 200
    assert items[1:3] == [Progress("tool", "Write src/x.py"), Progress("tool", "Edit /etc/hosts")]
    assert items[3].detail.startswith("Bash pytest -q yyy") and len(items[3].detail) <= 125
    assert items[4] == Progress("tool", "Grep TODO")
    assert len(items) == 5  # the final structured answer is not progress


async def test_run_workspace_task_refuses_a_readonly_spec(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workspace agent"):
        await run_workspace_task(AgentSpec(prompt="p", cwd=tmp_path))


@pytest.mark.parametrize(
    ("status", "retryable"), [(None, False), (400, False), (429, True), (529, True)]
)
def test_api_failures_are_retryable_when_the_api_says_so(
    status: int | None, retryable: bool
) -> None:
    error = AgentFailed("Claude Code failed: x", api_status=status)

    assert error.retryable is retryable
    assert str(error) == error.message == "Claude Code failed: x"


def test_a_timeout_names_its_limit_and_may_be_retried() -> None:
    error = AgentTimeout(2.5)

    assert error.message == "no answer within 2.5 s"
    assert error.retryable
