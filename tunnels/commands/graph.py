"""`tunnels graph`: the dependency graph discovery reads from the tree, as text, Mermaid or DOT.

It reads the folders on disk (the workspaces' manifests and `depends_on:`), as the orchestrator
does for each request; remote workspaces join the graph only in the running orchestrator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from claude_tunnels.actors.tree import Edge, Graph, Tree, TreeError, Workspace
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.errors import UserError

FORMATS = ("text", "mermaid", "dot")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`tunnels graph [--format text|mermaid|dot] [--project NAME]`."""
    graph = commands.add_parser("graph", help="print the dependency graph between workspaces (text, Mermaid or DOT)")
    graph.add_argument("--format", choices=FORMATS, default="text", help="text (default), mermaid or dot")
    graph.add_argument("--project", action="append", help="only the edges touching this project's workspaces (repeatable)")


async def graph(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print the graph; its warnings (manifests skipped, names matching nothing) go to stderr."""
    try:
        tree = discover(loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir])
        full = tree.graph()
        workspaces, edges = selected(tree, full, args.project or [])
    except TreeError as err:
        raise UserError(str(err)) from None
    render = {"text": text, "mermaid": mermaid, "dot": dot}[args.format]
    print(render(workspaces, edges, Graph(edges=edges).cycles()))
    for warning in full.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def selected(tree: Tree, graph: Graph, projects: Sequence[str]) -> tuple[list[Workspace], tuple[Edge, ...]]:
    """The workspaces and edges of `tree`'s `graph` to show: all, or those of `projects` and the
    edges touching them (with the workspaces at their other end). Raises `UnknownProject` for a
    name not in the tree."""
    if not projects:
        return list(tree.workspaces()), graph.edges
    wanted = {workspace.qualified for name in projects for workspace in tree.project(name).workspaces}
    edges = tuple(edge for edge in graph.edges if edge.source in wanted or edge.target in wanted)
    shown = wanted | {edge.source for edge in edges} | {edge.target for edge in edges}
    return [workspace for workspace in tree.workspaces() if workspace.qualified in shown], edges


def text(workspaces: list[Workspace], edges: Sequence[Edge], cycles: list[list[str]]) -> str:
    """One line per edge (`a -> b (why)`: a uses b), then a summary and the cycles."""
    lines = [f"{edge.source} -> {edge.target} ({', '.join(edge.why)})" for edge in edges]
    alone = [ws.qualified for ws in workspaces if not any(ws.qualified in (e.source, e.target) for e in edges)]
    if alone:
        lines.append(f"without dependencies: {', '.join(alone)}")
    count = f"{len(workspaces)} workspace{'s' if len(workspaces) != 1 else ''}, {len(edges)} edge{'s' if len(edges) != 1 else ''}"
    lines += ["", f"{count}; " + (f"{len(cycles)} cycle{'s' if len(cycles) != 1 else ''}:" if cycles else "no cycles.")]
    lines += [f"  cycle: {' <-> '.join(group)}" for group in cycles]
    return "\n".join(lines)


def mermaid(workspaces: list[Workspace], edges: Sequence[Edge], cycles: list[list[str]]) -> str:
    """A Mermaid flowchart, one subgraph per project, edges labelled with why."""
    ids = {ws.qualified: f"w{index}" for index, ws in enumerate(workspaces)}
    lines = ["flowchart LR"]
    for index, (project, members) in enumerate(_by_project(workspaces)):
        lines.append(f'  subgraph p{index}["{_mermaid_text(project)}"]')
        lines += [f'    {ids[ws.qualified]}["{_mermaid_text(ws.qualified)}"]' for ws in members]
        lines.append("  end")
    lines += [f'  {ids[e.source]} -->|"{_mermaid_text(", ".join(e.why))}"| {ids[e.target]}' for e in edges]
    return "\n".join(lines)


def dot(workspaces: list[Workspace], edges: Sequence[Edge], cycles: list[list[str]]) -> str:
    """A Graphviz digraph, one cluster per project, edges labelled with why."""
    lines = ["digraph dependencies {", "  rankdir=LR;", "  node [shape=box];"]
    for index, (project, members) in enumerate(_by_project(workspaces)):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_text(project)};")
        lines += [f"    {_dot_text(ws.qualified)};" for ws in members]
        lines.append("  }")
    lines += [f"  {_dot_text(e.source)} -> {_dot_text(e.target)} [label={_dot_text(', '.join(e.why))}];" for e in edges]
    lines.append("}")
    return "\n".join(lines)


def _by_project(workspaces: list[Workspace]) -> list[tuple[str, list[Workspace]]]:
    grouped: dict[str, list[Workspace]] = {}
    for workspace in workspaces:
        grouped.setdefault(workspace.project, []).append(workspace)
    return list(grouped.items())


def _mermaid_text(text: str) -> str:
    # Inside "..." Mermaid reads entity codes; a quote or a bracket would end the label.
    return "".join(f"#{ord(char)};" if char in '"<>#[]{}|' else char for char in text)


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
