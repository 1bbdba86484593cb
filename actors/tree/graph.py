"""The dependency graph of the tree: which workspace uses which, and why (plain data).

An edge `source -> target` says that `source` uses `target` (a path or a package name in one of
its manifests points at it, or its `CLAUDE.md` says `depends_on:`). Discovery finds the edges
(`tunnels.manifests`); this module only holds them and answers questions about them. Cycles are
allowed (two workspaces that use each other happen) and reported by `cycles()`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import msgspec


class Edge(msgspec.Struct, frozen=True, kw_only=True):
    """`source` uses `target` (qualified workspace names), for the reasons in `why`
    (`pyproject path dep`, `package.json name`, `CLAUDE.md depends_on`, ...)."""

    source: str
    target: str
    why: tuple[str, ...]


class Graph(msgspec.Struct, frozen=True, kw_only=True):
    """Edges between workspaces (one per ordered pair, sorted), and the warnings met building
    them (a malformed manifest, a `depends_on:` naming nothing)."""

    edges: tuple[Edge, ...] = ()
    warnings: tuple[str, ...] = ()

    def uses(self, workspace: str) -> list[str]:
        """The workspaces `workspace` uses directly."""
        return [edge.target for edge in self.edges if edge.source == workspace]

    def used_by(self, workspace: str) -> list[str]:
        """The workspaces that use `workspace` directly."""
        return [edge.source for edge in self.edges if edge.target == workspace]

    def reachable(self, workspace: str) -> set[str]:
        """Every workspace `workspace` uses, directly or through others (itself only on a cycle)."""
        links = self._forward()
        found = set(_hops(links, [workspace]))
        if any(workspace in links.get(node, ()) for node in found | {workspace}):
            found.add(workspace)
        return found

    def cycles(self) -> list[list[str]]:
        """The groups of workspaces that use each other (strongly connected, two or more), sorted."""
        return sorted(sorted(group) for group in _strongly_connected(self._forward()) if len(group) > 1)

    def project_distances(self, projects: Iterable[str]) -> dict[str, int]:
        """Every project reachable from `projects` by following the edges one way only (what they
        use, transitively) or the other way only (what uses them, transitively), with its
        distance in hops between projects; the `projects` themselves are at 0.

        One direction at a time: the users of a library the routed project also uses are not its
        neighbours (that would pull in the whole tree around a shared library)."""
        forward: dict[str, set[str]] = {}
        backward: dict[str, set[str]] = {}
        for edge in self.edges:
            source, target = _project(edge.source), _project(edge.target)
            if source != target:
                forward.setdefault(source, set()).add(target)
                backward.setdefault(target, set()).add(source)
        start = list(dict.fromkeys(projects))
        distances = {project: 0 for project in start}
        for links in (forward, backward):
            for project, hops in _hops(links, start).items():
                distances[project] = min(hops, distances.get(project, hops))
        return distances

    def _forward(self) -> dict[str, set[str]]:
        links: dict[str, set[str]] = {}
        for edge in self.edges:
            links.setdefault(edge.source, set()).add(edge.target)
        return links


def project_of(qualified: str) -> str:
    """The project of a qualified workspace name (`web-app` of `web-app/frontend`)."""
    return _project(qualified)


def merged(found: Iterable[tuple[str, str, str]], warnings: Iterable[str] = ()) -> Graph:
    """A graph from `(source, target, why)` triples: one edge per ordered pair with every reason,
    self-references dropped, sorted; the warnings deduplicated in order."""
    reasons: dict[tuple[str, str], set[str]] = {}
    for source, target, why in found:
        if source != target:
            reasons.setdefault((source, target), set()).add(why)
    edges = tuple(Edge(source=s, target=t, why=tuple(sorted(reasons[(s, t)]))) for s, t in sorted(reasons))
    return Graph(edges=edges, warnings=tuple(dict.fromkeys(warnings)))


def _project(qualified: str) -> str:
    return qualified.partition("/")[0]


def _hops(links: dict[str, set[str]], start: list[str]) -> dict[str, int]:
    """Breadth-first distances from `start` along `links` (the start nodes excluded unless
    reached again)."""
    distances: dict[str, int] = {}
    queue = deque((node, 0) for node in start)
    seen = set(start)
    while queue:
        node, hops = queue.popleft()
        for following in sorted(links.get(node, ())):
            if following not in seen:
                seen.add(following)
                distances[following] = hops + 1
                queue.append((following, hops + 1))
    return distances


def _strongly_connected(links: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (a long chain of workspaces must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    nodes = sorted(set(links) | {target for targets in links.values() for target in targets})
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(links.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                following = pending.pop()
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, sorted(links.get(following, ()))))
                elif following in on_stack:
                    low[node] = min(low[node], index[following])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups
