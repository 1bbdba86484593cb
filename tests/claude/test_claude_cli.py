"""The real bundled Claude Code CLI, run through `run_agent`, against the scripted model server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from claude_tunnels.tunnels.claude import (
    AgentFailed,
    AgentOutputInvalid,
    AgentSpec,
    AgentTimeout,
    BashRules,
    Progress,
    run_agent,
    run_workspace_task,
)
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario

pytestmark = pytest.mark.cli

SpecFactory = Callable[..., AgentSpec]
LiveProcesses = Callable[[], list[psutil.Process]]


def _load(server: ScriptedModelServer, yaml_text: str) -> None:
    server.load(parse_scenario(yaml_text, "test scenario"))


async def test_workspace_agent_writes_inside_its_cwd_and_returns_a_task_result(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, workspace: Path, tmp_path: Path
) -> None:
    _load(
        scripted_model,
        """
scripts:
  - name: write
    match: ["TASK-write-inside"]
    turns:
      - text: "Adding the module."
        tool_uses:
          - name: Write
            input: {file_path: "{cwd}/src/hello.py", content: "print('hi')\\n"}
      - structured_output:
          summary: "added src/hello.py"
          changed_files: ["src/hello.py"]
          test_result: pass
""",
    )
    seen: list[Progress] = []
    spec = agent_spec(
        "TASK-write-inside: add hello.py", kind="workspace", system_prompt="Be brief."
    )

    result, outcome = await run_workspace_task(spec, on_progress=seen.append)

    assert (workspace / "src" / "hello.py").read_text() == "print('hi')\n"
    assert result.summary == "added src/hello.py"
    assert result.changed_files == ["src/hello.py"]
    assert result.test_result == "pass"
    assert Progress("tool", "Write src/hello.py") in seen
    assert Progress("text", "Adding the module.") in seen
    assert outcome.usage.cost_usd > 0
    assert outcome.usage.input_tokens > 0
    assert outcome.usage.num_turns >= 2
    assert outcome.denied == ()
    first = scripted_model.requests_for("write")[0]
    assert first.cwd == str(workspace)
    assert "Be brief." in first.task_text  # the instructions reach the system prompt
    assert list((tmp_path / "sandbox").iterdir()) == []  # the per-run HOME/config/tmp is gone


async def test_write_outside_the_workspace_is_denied_and_the_agent_still_finishes(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    _load(
        scripted_model,
        f"""
scripts:
  - name: escape
    match: ["TASK-escape"]
    turns:
      - tool_uses:
          - name: Write
            input: {{file_path: "{{cwd}}/../outside.txt", content: "escaped"}}
          - name: Write
            input: {{file_path: "{outside}", content: "escaped"}}
      - structured_output: {{summary: "tried"}}
""",
    )

    result, outcome = await run_workspace_task(agent_spec("TASK-escape", kind="workspace"))

    assert not outside.exists()
    assert result.summary == "tried"
    assert len(outcome.denied) == 2
    assert all("outside the workspace" in line for line in outcome.denied)
    # The model was told why, in the tool results of its next request.
    assert "outside the workspace" in scripted_model.requests_for("escape")[1].messages_text()


async def test_bash_is_checked_by_the_policy_even_when_the_cli_would_allow_it(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, workspace: Path
) -> None:
    # The CLI runs commands it deems read-only (`ls -la`) without asking can_use_tool:
    # only the runner's PreToolUse hook keeps them under the policy.
    (workspace / "listed-only-if-ls-ran.txt").write_text("x")
    _load(
        scripted_model,
        """
scripts:
  - name: shell
    match: ["TASK-shell"]
    turns:
      - tool_uses:
          - name: Bash
            input: {command: "ls -la", description: "auto-allowed by the CLI"}
          - name: Bash
            input: {command: "touch denied.txt", description: "not allowed"}
          - name: Bash
            input: {command: "echo ok > allowed.txt", description: "allowed"}
      - structured_output: {summary: "shell done"}
""",
    )
    spec = agent_spec("TASK-shell", kind="workspace", bash=BashRules(allow=["echo *"]))

    _, outcome = await run_workspace_task(spec)

    assert (workspace / "allowed.txt").read_text() == "ok\n"
    assert not (workspace / "denied.txt").exists()
    tool_results = scripted_model.requests_for("shell")[1].messages_text()
    assert "listed-only-if-ls-ran.txt" not in tool_results
    assert "Bash command `ls -la` is not in the allowlist" in tool_results
    assert [line.split(":")[0] for line in outcome.denied] == ["Bash", "Bash"]


async def test_a_readonly_agent_has_no_write_tool_and_runs_no_workspace_commands(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, workspace: Path
) -> None:
    # A workspace could declare command hooks and MCP servers: the CLI would run them.
    hook_ran, mcp_ran = workspace / "hook-ran", workspace / "mcp-ran"
    (workspace / ".claude").mkdir()
    settings = {
        "enableAllProjectMcpServers": True,
        "hooks": {
            "SessionStart": [{"hooks": [{"type": "command", "command": f"touch {hook_ran}"}]}],
            "PreToolUse": [
                {"matcher": "*", "hooks": [{"type": "command", "command": f"touch {hook_ran}"}]}
            ],
        },
    }
    (workspace / ".claude" / "settings.json").write_text(json.dumps(settings))
    mcp = {"mcpServers": {"x": {"command": "sh", "args": ["-c", f"touch {mcp_ran}; sleep 5"]}}}
    (workspace / ".mcp.json").write_text(json.dumps(mcp))
    _load(
        scripted_model,
        """
scripts:
  - name: router
    match: ["TASK-route"]
    turns:
      - tool_uses:
          - name: Write
            input: {file_path: "{cwd}/x.txt", content: "should not exist"}
      - structured_output: {projects: ["alpha"]}
""",
    )
    schema = {
        "type": "object",
        "properties": {"projects": {"type": "array"}},
        "required": ["projects"],
    }
    spec = agent_spec("TASK-route", system_prompt="You route requests.", output_schema=schema)

    outcome = await run_agent(spec)

    assert outcome.structured_output == {"projects": ["alpha"]}
    assert not (workspace / "x.txt").exists()
    first, second = scripted_model.requests_for("router")[:2]
    offered = {tool["name"] for tool in first.body["tools"]}
    assert {"Read", "Glob", "Grep"} <= offered
    assert not offered & {"Write", "Edit", "Bash", "NotebookEdit", "WebFetch", "Agent", "Task"}
    assert "You route requests." in first.task_text
    assert "No such tool available: Write" in second.messages_text()
    assert not hook_ran.exists()
    assert not mcp_ran.exists()


async def test_a_workspace_agent_without_its_task_result_is_an_invalid_output(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory
) -> None:
    _load(
        scripted_model,
        """
scripts:
  - name: chatty
    match: ["TASK-chatty"]
    turns: [{text: "All done, trust me."}]
""",
    )

    with pytest.raises(AgentOutputInvalid) as caught:
        await run_workspace_task(agent_spec("TASK-chatty", kind="workspace"))

    assert "without its structured answer" in caught.value.message
    # The CLI asked once more for the StructuredOutput call before giving up.
    assert (
        "[structured-output-enforce]" in scripted_model.requests_for("chatty")[-1].messages_text()
    )


async def test_a_workspace_agent_is_stopped_at_its_cost_budget_and_its_cost_is_kept(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, workspace: Path,
    live_processes: LiveProcesses,
) -> None:
    # The scripted server reports token usage, so the CLI prices every answer itself; the first
    # answer of a workspace session (Claude Code's whole system prompt) costs more than a cent.
    _load(
        scripted_model,
        """
scripts:
  - name: spender
    match: ["TASK-spender"]
    turns:
      - tool_uses:
          - name: Write
            input: {file_path: "{cwd}/first.txt", content: "1\\n"}
      - tool_uses:
          - name: Write
            input: {file_path: "{cwd}/second.txt", content: "2\\n"}
      - structured_output: {summary: "spent it all"}
""",
    )
    spec = agent_spec("TASK-spender", kind="workspace", max_budget_usd=0.01)

    with pytest.raises(AgentFailed) as caught:
        await run_workspace_task(spec)

    # The CLI ends with an `error_max_budget_usd` result ("Reached maximum budget ($0.01)").
    failure = caught.value
    assert re.fullmatch(
        r"the task reached its cost budget of \$0\.01 \(spent \$0\.\d{2,4}\)", failure.message
    ), failure.message
    assert not failure.retryable
    assert failure.usage.cost_usd > 0.01  # it checks after each answer: a little past the budget
    assert failure.usage.input_tokens > 0 and failure.usage.num_turns >= 1
    assert len(scripted_model.requests_for("spender")) < 3  # it never reached its answer
    assert not (workspace / "second.txt").exists()
    assert live_processes() == []


async def test_a_model_that_never_answers_times_out_and_leaves_no_process(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, live_processes: LiveProcesses
) -> None:
    _load(
        scripted_model,
        """
scripts:
  - name: stuck
    match: ["TASK-stuck"]
    turns: [{hang: true}]
""",
    )
    started = time.monotonic()

    with pytest.raises(AgentTimeout) as caught:
        await run_agent(agent_spec("TASK-stuck", timeout_s=2.0))

    assert caught.value.message == "no answer within 2 s"
    assert time.monotonic() - started < 2.0 + 2.0  # no 5 s SDK grace period on top
    assert scripted_model.requests_for("stuck")
    assert live_processes() == []


async def test_an_api_error_fails_fast_with_a_clear_message(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory
) -> None:
    _load(
        scripted_model,
        """
scripts:
  - name: broken
    match: ["TASK-broken"]
    turns:
      - error: {status: 500, type: api_error, message: "scripted outage"}
""",
    )
    started = time.monotonic()

    with pytest.raises(AgentFailed) as caught:
        await run_agent(agent_spec("TASK-broken"))

    assert "scripted outage" in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.api_status == 500
    assert caught.value.retryable
    assert time.monotonic() - started < 10.0
    assert len(scripted_model.requests_for("broken")) == 1  # no retries


async def test_cancel_while_waiting_for_the_model_is_prompt_and_leaves_no_process(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, live_processes: LiveProcesses
) -> None:
    _load(
        scripted_model,
        """
scripts:
  - name: waiting
    match: ["TASK-waiting"]
    turns: [{hang: true}]
""",
    )
    task = asyncio.create_task(run_agent(agent_spec("TASK-waiting", kind="workspace")))
    await scripted_model.wait_for_requests(script="waiting")
    started = time.monotonic()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 2.0  # the SDK alone waits 5 s before SIGTERM
    assert live_processes() == []


async def test_cancel_mid_tool_stops_the_tool_process_too(
    scripted_model: ScriptedModelServer, agent_spec: SpecFactory, live_processes: LiveProcesses
) -> None:
    _load(
        scripted_model,
        """
scripts:
  - name: busy
    match: ["TASK-busy"]
    turns:
      - tool_uses:
          - name: Bash
            input: {command: "python3 -c 'import time; time.sleep(300)'", description: "long"}
""",
    )
    tool_started = asyncio.Event()

    def on_progress(item: Progress) -> None:
        if item.kind == "tool" and item.detail.startswith("Bash python3"):
            tool_started.set()

    spec = agent_spec("TASK-busy", kind="workspace", bash=BashRules(mode="allow_all"))
    task = asyncio.create_task(run_agent(spec, on_progress))
    await asyncio.wait_for(tool_started.wait(), 30)
    started = time.monotonic()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 4.0  # the CLI takes ~1.5 s to stop a running tool
    assert live_processes() == []
