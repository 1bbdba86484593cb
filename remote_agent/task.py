"""What a task's agent is told: the prompt the orchestrator made, or (from an orchestrator older
than the `prompt` field) the same prompt made here from the command's fields."""

from __future__ import annotations

from claude_tunnels.actors.prompts import WORKSPACE_INSTRUCTIONS, upstream_block, workspace_prompt
from claude_tunnels.events.values import PlannedTask
from claude_tunnels.remote_agent.protocol import TaskCommand


def prompt_of(command: TaskCommand) -> tuple[str, str]:
    """(prompt, instructions) of the session that runs `command`."""
    if command.prompt:
        return command.prompt, command.instructions or WORKSPACE_INSTRUCTIONS
    upstream = upstream_block([(u.workspace, u.result) for u in command.upstream], command.upstream_context_chars)
    planned = PlannedTask(workspace=command.workspace, task=command.task)
    return workspace_prompt(planned, command.request_text, upstream, command.max_message_chars), WORKSPACE_INSTRUCTIONS
