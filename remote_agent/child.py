"""A child orchestrator as its parent's workspace: the remote agent's lifecycle, its own flow inside.

To its parent a child orchestrator is one more remote workspace, `project/name`: it announces
itself in the presence bucket (kind `orchestrator`, its description and a bounded summary of its
projects in place of a `CLAUDE.md`), heartbeats, pulls its tasks from the same work queue, hears
cancels on the same control subject and reports on the same protocol. `ChildAgent` is the
`WorkspaceAgent` with one difference: a task does not start a Claude Code session, it becomes a
request of the child (`OwnRequests`, wired by the composition root), and `Started` names it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from claude_tunnels.actors.ports import Answer, Progress, Question
from claude_tunnels.actors.tree import Tree
from claude_tunnels.remote_agent.agent import WorkspaceAgent
from claude_tunnels.remote_agent.ports import AgentPorts
from claude_tunnels.remote_agent.protocol import Finished, Presence, Progressed, Started, TaskCommand
from claude_tunnels.remote_agent.questions import TaskQuestions
from claude_tunnels.remote_agent.settings import AgentSecrets, AgentSettings, host_name

ANNOUNCED_CHARS = 16_000
"""The most of its description and project summary a child announces (like a CLAUDE.md)."""


class OwnRequests(Protocol):
    """The child orchestrator's own flow, as its parent link needs it."""

    def announcement(self) -> str:
        """Its description and a bounded summary of its projects (what the parent's planner reads)."""
        ...

    async def run(
        self, command: TaskCommand, *, opened: Callable[[str], None], on_progress: Callable[[Progress], None],
        ask: Callable[[Question], Awaitable[Answer]],
    ) -> Finished:
        """Run the parent's task as a request of this orchestrator, to its end; `opened(request_id)`
        once it is recorded; `ask` puts a question to the parent's conversation (a plan that needs
        this orchestrator's own approval). Cancelling the call cancels the request (and its agents) first."""
        ...


class ChildAgent(WorkspaceAgent):
    """`async with ChildAgent(settings, secrets, ports, requests) as agent: await agent.serve()`."""

    reports_start = False  # `Started` waits for the request, to name it

    def __init__(self, settings: AgentSettings, secrets: AgentSecrets, ports: AgentPorts, requests: OwnRequests) -> None:
        super().__init__(settings, secrets, ports)
        self.requests = requests

    def presence(self) -> Presence:
        """What the parent sees: the name, kind `orchestrator`, the description and project summary."""
        return Presence(
            workspace=self.settings.workspace, agent_id=self.agent_id, host=host_name(), version=self.version,
            capacity=1, claude_md=self.requests.announcement()[:ANNOUNCED_CHARS], heartbeat_s=self.settings.heartbeat_s,
            heartbeat_at=time.time(), draining=self.draining, kind="orchestrator",
        )

    def _session(
        self, command: TaskCommand, on_progress: Callable[[Progress], None], questions: TaskQuestions,
    ) -> Coroutine[Any, Any, Finished]:
        reports = self._reports
        assert reports is not None
        agent_id = self.agent_id

        def opened(request_id: str) -> None:
            reports.send(Started(task_id=command.task_id, agent_id=agent_id, child_request_id=request_id))

        def line(progress: Progress) -> None:
            # Not throttled here: a request says a few lines per phase and task, each worth telling.
            reports.send(Progressed(task_id=command.task_id, kind="text", detail=progress.detail))

        return self.requests.run(command, opened=opened, on_progress=line, ask=questions.ask)


def announcement(description: str, tree: Tree, *, max_projects: int = 40, line_chars: int = 300) -> str:
    """What a child announces: its description, then one line per project (its description and
    its workspaces' names), at most `max_projects` of them: a summary, never its whole tree."""
    lines = ["A child orchestrator: a task given to it is planned and run in its own tree of projects.", ""]
    if description.strip():
        lines += [description.strip(), ""]
    lines.append("Its projects:")
    for project in tree.projects[:max_projects]:
        names = ", ".join(workspace.name for workspace in project.workspaces)
        about = " ".join(project.description.split())
        line = f"- {project.name}" + (f": {about}" if about else "") + (f" (workspaces: {names})" if names else "")
        lines.append(line if len(line) <= line_chars else line[: line_chars - 1] + "…")
    if len(tree.projects) > max_projects:
        lines.append(f"- … and {len(tree.projects) - max_projects} more")
    return "\n".join(lines)[:ANNOUNCED_CHARS]
