"""The planner's view of the tree within a size budget: one line per workspace, then the edges.

Whatever the size of the tree, the listing stays under its budget: workspaces are taken nearest
first (the routed projects', then their neighbours' by distance), each with its line and its
edges to those already taken, until the next one would not fit; the ones left out (the farthest)
are counted in a note. Then, with room left, the announced `CLAUDE.md` of the routed projects'
remote workspaces (which the planner cannot read from disk). Descriptions come from files in the
tree, so every line is escaped like any other untrusted text.
"""

from __future__ import annotations

from claude_tunnels.actors.scope import PlanningScope
from claude_tunnels.actors.tree import Tree, Workspace
from claude_tunnels.actors.untrusted import escape, wrap

_REMOTE_CARD_CHARS = 3000

HOW_TO_READ = (
    "Workspaces you may plan for, one line each (`qualified name: description`): the projects the "
    "request was routed to first, then their neighbours in the dependency graph (projects that use "
    "them or that they use), marked with their distance. A local workspace's folder is its qualified "
    "name under your working directory (the tree's root): read its CLAUDE.md and files with your "
    "read-only tools when you need more than its line. A remote workspace is served by an agent on "
    "another host: its line is what it announced."
)


def workspace_line(workspace: Workspace, hops: int) -> str:
    """`- qualified [neighbour, N hops] (remote): description`, escaped."""
    marks = f" [neighbour, {hops} hop{'s' if hops != 1 else ''}]" if hops else ""
    marks += " (remote)" if workspace.remote else ""
    return escape(f"- {workspace.qualified}{marks}: {workspace.description or '(no description)'}")


def listing(tree: Tree, scope: PlanningScope, budget: int) -> str:
    """The workspaces in `scope` and the edges between them, at most `budget` characters."""
    ordered = scope.workspaces(tree)
    links: dict[str, set[str]] = {}
    for edge in scope.graph.edges:
        links.setdefault(edge.source, set()).add(edge.target)
        links.setdefault(edge.target, set()).add(edge.source)
    # Taken greedily on a bound of the cost (each edge as a line of its own, the note at its
    # longest); then rendered, and shortened further only if the rendering still does not fit.
    cycles = scope.graph.cycles()
    room = budget - len(_render(scope, cycles, [], len(ordered), with_cards=False))
    taken: list[tuple[Workspace, int, str]] = []
    names: set[str] = set()
    for workspace, hops in ordered:
        line = workspace_line(workspace, hops)  # described only when reached: the far ones never are
        cost = len(line) + 1 + sum(len(workspace.qualified) + len(other) + 6 for other in links.get(workspace.qualified, ()) if other in names)
        if cost > room:
            break
        room -= cost
        taken.append((workspace, hops, line))
        names.add(workspace.qualified)
    text = _render(scope, cycles, taken, len(ordered) - len(taken), budget=budget)
    while len(text) > budget and taken:
        taken.pop()
        text = _render(scope, cycles, taken, len(ordered) - len(taken), budget=budget)
    return text if len(text) <= budget else ""


def _render(
    scope: PlanningScope, cycles: list[list[str]], taken: list[tuple[Workspace, int, str]], left_out: int, *,
    with_cards: bool = True, budget: int = 0,
) -> str:
    names = {workspace.qualified for workspace, _, _ in taken}
    parts = [HOW_TO_READ, "<workspaces>", *(line for _, _, line in taken), "</workspaces>"]
    if left_out or not with_cards:  # a bound: the note at its longest when measuring the frame
        count = left_out if with_cards else 10 ** 7
        parts.append(
            f"({count} more workspace{'s' if count != 1 else ''} in scope, the farthest from the routed projects, "
            "left out to keep this prompt under its size limit; you may still plan for them by qualified name: "
            "find them with Glob `**/CLAUDE.md`.)"
        )
    edges = _edges(scope, names)
    parts += [
        "",
        "Dependencies between them, read from their manifests and CLAUDE.md `depends_on:` "
        "(`a -> b, c`: a uses b and c; a task usually runs after the tasks of what it uses):",
        "<dependency_graph>",
        *edges,
        "</dependency_graph>",
    ]
    shown = [group for group in cycles if set(group) <= names]
    if shown:
        parts.append("Cycles (these use each other): " + "; ".join(" <-> ".join(escape(name) for name in group) for group in shown))
    text = "\n".join(parts)
    if with_cards:
        text += _remote_cards(taken, budget - len(text))
    return text


def _edges(scope: PlanningScope, names: set[str]) -> list[str]:
    grouped: dict[str, list[str]] = {}
    for edge in scope.graph.edges:
        if edge.source in names and edge.target in names:
            grouped.setdefault(edge.source, []).append(edge.target)
    # Names are escaped (a folder name may hold `<`); the arrow itself opens no tag.
    return [f"{escape(source)} -> {escape(', '.join(targets))}" for source, targets in grouped.items()]


def _remote_cards(taken: list[tuple[Workspace, int, str]], room: int) -> str:
    """The announced CLAUDE.md of the routed projects' remote workspaces, as many as fit in `room`."""
    cards = ""
    for workspace, hops, _ in taken:
        if hops or not workspace.remote or not workspace.claude_md:
            continue
        card = "\n\n" + wrap("claude_md", workspace.claude_md, limit=_REMOTE_CARD_CHARS, attrs={"workspace": workspace.qualified})
        if len(cards) + len(card) > room:
            break
        cards += card
    return cards
