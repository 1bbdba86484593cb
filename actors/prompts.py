"""The prompts of each role. User and agent text is always escaped inside its tag."""

from __future__ import annotations

from collections.abc import Sequence

from claude_tunnels.actors.tree import Tree, Workspace
from claude_tunnels.actors.untrusted import UNTRUSTED_NOTE, wrap
from claude_tunnels.events.conversation import Turn
from claude_tunnels.events.values import PlannedTask, TaskResult

_CLAUDE_MD_CHARS = 3000

ROUTER_SYSTEM = (
    "You are the router of a project orchestrator. Decide which projects of the tree a request "
    "is about. Answer only through the StructuredOutput tool: `projects` (names from the list), "
    "or `clarification` (one short question) when it is unclear, or an empty `projects` when the "
    "request needs no project at all. You may read files to decide. " + UNTRUSTED_NOTE
)

PLANNER_SYSTEM = (
    "You are the planner of a project orchestrator. Split the request into one task per "
    "workspace that must change, with `depends_on` naming the workspaces whose results a task "
    "needs. Use only the workspaces listed, by their qualified names. Answer only through the "
    "StructuredOutput tool. You may read files to plan. " + UNTRUSTED_NOTE
)

DIRECT_SYSTEM = (
    "You are the assistant of a project orchestrator. The request below needs no project "
    "change: answer it briefly and plainly. You may read files. " + UNTRUSTED_NOTE
)

WORKSPACE_INSTRUCTIONS = (
    "You are one workspace agent of a project orchestrator. Work only inside the current "
    "directory (your workspace); writes elsewhere are refused. Do the task, run the workspace's "
    "tests when it has any, then finish by calling the StructuredOutput tool with `summary` (what "
    "you did), `changed_files` (paths relative to the workspace), `test_result` (pass, fail or "
    "skip) and `downstream_context` (what tasks that depend on yours need to know). "
    + UNTRUSTED_NOTE
)


def _history(turns: Sequence[Turn], limit: int) -> str:
    if not turns:
        return ""
    lines = "\n".join(f"{turn.role}: {turn.text}" for turn in turns)
    return wrap("earlier_conversation", lines, limit=limit) + "\n\n"


def router_prompt(text: str, history: Sequence[Turn], tree: Tree, limit: int) -> str:
    """The router's question: the projects with their descriptions, then the request."""
    projects = "\n".join(
        f"- {project.name}: {(project.claude_md.strip().splitlines() or ['(no description)'])[0][:200]}"
        for project in tree.projects
    )
    return (
        f"Projects in the tree:\n{projects}\n\n{_history(history, limit)}"
        f"{wrap('user_message', text, limit=limit)}\n\nWhich projects is this request about?"
    )


def _workspace_card(workspace: Workspace) -> str:
    about = wrap("claude_md", workspace.claude_md or "(no CLAUDE.md)", limit=_CLAUDE_MD_CHARS, attrs={"workspace": workspace.qualified})
    return f"### {workspace.qualified}\n{about}"


def planner_prompt(text: str, revisions: Sequence[str], history: Sequence[Turn], tree: Tree, projects: Sequence[str], limit: int) -> str:
    """The planner's question: the workspaces of the routed projects, then the request."""
    cards = "\n\n".join(_workspace_card(w) for w in tree.workspaces() if w.project in projects)
    changes = "".join(f"\n\n{wrap('revision', r, limit=limit, attrs={'number': str(i)})}" for i, r in enumerate(revisions, 1))
    return (
        f"Workspaces you may plan for:\n\n{cards}\n\n{_history(history, limit)}"
        f"{wrap('user_message', text, limit=limit)}{changes}\n\nPlan the workspace tasks."
    )


def direct_prompt(text: str, history: Sequence[Turn], limit: int) -> str:
    """A request that needs no project."""
    return f"{_history(history, limit)}{wrap('user_message', text, limit=limit)}"


def upstream_block(results: Sequence[tuple[str, TaskResult]], limit: int) -> str:
    """The results of the tasks a task depends on, each bounded and marked as untrusted data."""
    if not results:
        return ""
    parts = [
        wrap(
            "upstream_result",
            f"summary: {result.summary}\nchanged files: {', '.join(result.changed_files) or 'none'}\n"
            f"tests: {result.test_result}\ncontext for you: {result.downstream_context}",
            limit=limit,
            attrs={"workspace": workspace},
        )
        for workspace, result in results
    ]
    return "Results of the tasks yours depends on:\n" + "\n".join(parts) + "\n\n"


def workspace_prompt(task: PlannedTask, request_text: str, upstream: str, limit: int) -> str:
    """A workspace agent's task."""
    return (
        f"Workspace: {task.workspace}\n\n{upstream}"
        f"The whole request, for context:\n{wrap('user_request', request_text, limit=limit)}\n\n"
        f"Your task in this workspace:\n{wrap('task', task.task, limit=limit)}"
    )
