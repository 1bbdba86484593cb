"""The prompts of each role. User and agent text is always escaped inside its tag."""

from __future__ import annotations

from collections.abc import Sequence

from claude_tunnels.actors.listing import listing
from claude_tunnels.actors.scope import PlanningScope
from claude_tunnels.actors.tree import Tree
from claude_tunnels.actors.tree.describe import shorten
from claude_tunnels.actors.untrusted import UNTRUSTED_NOTE, escape, wrap
from claude_tunnels.events.conversation import Turn
from claude_tunnels.events.values import PlannedTask, TaskResult

_DESCRIPTION_WIDTHS = (200, 100, 50, 0)  # the router's project lines, shortened in turn to fit
_MIN_WRAP = 64  # room for a wrapped text's truncation marker

ROUTER_SYSTEM = (
    "You are the router of a project orchestrator. Decide which projects of the tree a request "
    "is about. Projects marked `*` are named in the message: a strong hint, not a limit. Keep "
    "them unless the message says otherwise, and add every other project the request needs "
    "(\"deploy to staging\" needs the project that deploys, \"run the integration tests\" the one "
    "that holds them). Answer only through the StructuredOutput tool: `projects` (names from the "
    "list), or `clarification` (one short question) when it is unclear, or an empty `projects` "
    "when the request needs no project at all. You may read files to decide. " + UNTRUSTED_NOTE
)

PLANNER_SYSTEM = (
    "You are the planner of a project orchestrator. Split the request into tasks, each for one "
    "workspace that must change, with a short `id` (t1, t2, …) and `depends_on` naming the ids of "
    "the tasks whose results it needs. A workspace may have several tasks (\"apply v2\", then, "
    "after its users are updated, \"run the full tests\"); they run one at a time. Use only the "
    "workspaces in scope (listed, or counted as left out of the list), by "
    "their qualified names. The dependency graph says which workspace uses which: a task for a "
    "workspace usually depends on the tasks of the workspaces it uses. Each workspace has one line; "
    "read its CLAUDE.md with your read-only tools when you need more. Answer only through the "
    "StructuredOutput tool. " + UNTRUSTED_NOTE
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


def router_prompt(
    text: str, history: Sequence[Turn], tree: Tree, limit: int, budget: int, *, named: Sequence[str] = (),
) -> str:
    """The router's question: every project with its description, the `named` ones (named in
    the message) marked, then the request; at most `budget` characters (descriptions are
    shortened, then unnamed projects left out, to fit)."""
    request = (
        f"{_history(history, _share(limit, budget, 5))}{wrap('user_message', text, limit=_share(limit, budget, 10 / 3))}"
        "\n\nWhich projects is this request about?"
    )
    head = "Projects in the tree (`*`: named in the message):\n" if named else "Projects in the tree:\n"
    return f"{head}{_project_lines(tree, set(named), budget - len(head) - len(request) - 2)}\n\n{request}"


def _project_line(name: str, about: str, width: int, named: bool) -> str:
    mark, note = ("*", " (named in the message)") if named else ("-", "")
    return escape(f"{mark} {name}{note}: {shorten(about, width) or '(no description)'}" if width else f"{mark} {name}{note}")


def _project_lines(tree: Tree, named: set[str], room: int) -> str:
    """One line per project, its description shortened (down to none) until the lines fit in
    `room`; past that projects are left out and counted, the named ones kept."""
    descriptions = [(project.name, project.description) for project in tree.projects]
    for width in _DESCRIPTION_WIDTHS:
        lines = [(name in named, _project_line(name, about, width, name in named)) for name, about in descriptions]
        if sum(len(line) + 1 for _, line in lines) - 1 <= room:
            return "\n".join(line for _, line in lines)
    if room < len(_left_out_note(len(lines))):
        return ""
    used = len(_left_out_note(len(lines)))
    keep: set[int] = set()
    for index in sorted(range(len(lines)), key=lambda i: not lines[i][0]):  # the named first
        if used + len(lines[index][1]) + 1 > room:
            break
        keep.add(index)
        used += len(lines[index][1]) + 1
    kept = [line for index, (_, line) in enumerate(lines) if index in keep]
    return "\n".join([*kept, _left_out_note(len(lines) - len(kept))])


def _left_out_note(count: int) -> str:
    return f"({count} more projects left out to keep this prompt under its size limit; list the root's folders to see them.)"


def planner_prompt(
    text: str, revisions: Sequence[str], history: Sequence[Turn], tree: Tree, scope: PlanningScope, limit: int, budget: int,
    *, refused: str = "",
) -> str:
    """The planner's question: the workspaces in scope one line each and the graph between them
    (within what is left of `budget`), then the request with its revisions (each once), and,
    when its previous answer was refused, why; at most `budget` characters."""
    request = (
        f"{_history(history, _share(limit, budget, 5))}{wrap('user_message', text, limit=_share(limit, budget, 10 / 3))}"
        f"{_revisions(revisions, limit, budget)}{_refusal(refused, budget)}\n\nPlan the workspace tasks."
    )
    return f"{listing(tree, scope, budget - len(request) - 2)}\n\n{request}"


def _refusal(refused: str, budget: int) -> str:
    """Why the planner's previous answer was refused (it names what the answer held: escaped)."""
    if not refused:
        return ""
    return (
        f"\n\nYour previous plan for this request was refused:\n{wrap('refusal', refused, limit=_share(2000, budget, 20))}\n"
        "Answer again with a plan that follows the rules."
    )


def _revisions(revisions: Sequence[str], limit: int, budget: int) -> str:
    """The revisions, together at most a fifth of `budget` (the latest kept when they are many)."""
    room = budget // 5
    keep = min(len(revisions), max(room // (_MIN_WRAP + 40), 1)) if revisions else 0
    each = max(min(limit, room // max(keep, 1) - 40), _MIN_WRAP)
    first = len(revisions) - keep
    note = f"\n\n({first} earlier revisions left out; the latest follow.)" if first else ""
    return note + "".join(
        f"\n\n{wrap('revision', revision, limit=each, attrs={'number': str(number)})}"
        for number, revision in enumerate(revisions[first:], first + 1)
    )


def _share(limit: int, budget: int, parts: float) -> int:
    """A text's bound: `limit`, or a `parts`-th of the prompt's budget when that is less."""
    return max(min(limit, int(budget / parts)), _MIN_WRAP)


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


def workspace_prompt(task: PlannedTask, request_text: str, upstream: str, limit: int, revisions: Sequence[str] = ()) -> str:
    """A workspace agent's task, with the whole request as revised (the request, then each
    revision the person asked for before approving the plan)."""
    revised = "".join(
        f"\n{wrap('revision', revision, limit=limit, attrs={'number': str(number)})}" for number, revision in enumerate(revisions, 1)
    )
    return (
        f"Workspace: {task.workspace}\n\n{upstream}"
        f"The whole request, for context{' (as revised)' if revisions else ''}:\n{wrap('user_request', request_text, limit=limit)}{revised}\n\n"
        f"Your task in this workspace:\n{wrap('task', task.task, limit=limit)}"
    )
