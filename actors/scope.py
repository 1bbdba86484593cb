"""What the planner sees and may plan for: the routed projects and their neighbours in the
dependency graph.

A neighbour is a project that uses a routed project, or that a routed project uses, directly or
through others (transitively, one direction at a time: see `Graph.project_distances`). "Deploy to
staging" needs the infra project that deploys the routed web-app; "run the integration tests"
needs the qa project that uses it; a library v2 needs the users of the library. Transitive,
because a real request reaches past one hop (library -> its users -> their integration tests);
one direction at a time, so the other users of a library the routed project merely uses are not
pulled in. Neighbours are ordered by their distance: when the prompt budget is short, the
farthest are left out first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claude_tunnels.actors.tree import Graph, Tree, Workspace


@dataclass(frozen=True)
class PlanningScope:
    """The projects of one planning call, nearest first, and the graph between their workspaces."""

    routed: tuple[str, ...]
    """The projects the request was routed to, in the route's order."""
    distances: dict[str, int]
    """Every project in scope and its distance in hops (0: routed)."""
    graph: Graph
    """The whole dependency graph (a plan's warnings follow paths through any workspace; the
    prompt shows the edges between the workspaces it lists)."""

    @property
    def projects(self) -> tuple[str, ...]:
        """Routed projects (route order), then neighbours by distance and name."""
        neighbours = sorted((hops, name) for name, hops in self.distances.items() if name not in self.routed)
        return (*self.routed, *(name for _, name in neighbours))

    @property
    def neighbours(self) -> tuple[str, ...]:
        """The projects in scope that were not routed, nearest first."""
        return self.projects[len(self.routed) :]

    def workspaces(self, tree: Tree) -> list[tuple[Workspace, int]]:
        """The tree's workspaces in scope with their project's distance, nearest first."""
        by_project = {project.name: project for project in tree.projects}
        return [
            (workspace, self.distances[name])
            for name in self.projects
            if name in by_project
            for workspace in by_project[name].workspaces
        ]


def planning_scope(tree: Tree, routed: Sequence[str], graph: Graph | None = None) -> PlanningScope:
    """The scope of planning a request routed to `routed` on `tree` (whose `graph()` is used
    unless `graph` is given)."""
    graph = graph if graph is not None else tree.graph()
    known = {project.name for project in tree.projects}
    routed = tuple(dict.fromkeys(name for name in routed if name in known))
    distances = {name: hops for name, hops in graph.project_distances(routed).items() if name in known}
    return PlanningScope(routed=routed, distances=distances, graph=graph)
