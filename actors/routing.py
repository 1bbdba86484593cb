"""Routing a message to projects: the names it mentions (hints for the router), the two cases
that need no router, and the router agent's answer checked against the tree.

Names in a message are hints, not limits: "fix the login in web-app, then deploy to staging"
names web-app but needs the infra project too, so the router sees every project, the named ones
marked, and decides. Only two cases skip it, where nothing is left to decide:

- the tree has a single project (the route can only be that one);
- the message is addressed to one project or workspace, `web-app: …`, `in web-app: …` or
  `in web-app/frontend, …` at its start, and names no other project: the person said where.
  (The planner still sees that project's neighbours in the dependency graph.)
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass

import msgspec

from claude_tunnels.actors.tree import Tree, UnsafeName, validate_name
from claude_tunnels.actors.tree.mentions import NameMatcher

MAX_SUGGESTIONS = 3
_MAX_LISTED = 20


class RoutingInvalid(ValueError):
    """The router's answer cannot be used; the message says why (shown to the person)."""


class UnknownProjects(RoutingInvalid):
    """The router named projects the tree does not have; `question` asks the person which they
    meant, with the closest known names (or the known ones)."""

    def __init__(self, unknown: list[str], question: str) -> None:
        super().__init__(f"the router named unknown projects: {', '.join(unknown)}")
        self.unknown = unknown
        self.question = question


class RouteAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The router agent's structured answer: projects, or a question, or neither (no project)."""

    projects: list[str] = []
    clarification: str | None = None


ROUTE_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "projects": {"type": "array", "items": {"type": "string"}, "description": "project names the request is about"},
        "clarification": {"type": ["string", "null"], "description": "a question when it is unclear which project is meant"},
    },
    "required": ["projects"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Named:
    """The projects and workspaces a message mentions by name, in tree order."""

    projects: list[str]
    workspaces: list[str]
    """Qualified `project/workspace` names (a project that is its own workspace is a project)."""


def named_in(text: str, tree: Tree) -> Named:
    """The projects (`web-app`) and workspaces (`web-app/frontend`, whose project counts as
    named too) that `text` mentions as whole names, case-insensitively."""
    found = matcher_for(tree).mentioned(text)
    if not found:
        return Named([], [])
    workspaces = [
        workspace.qualified for workspace in tree.workspaces()
        if workspace.qualified != workspace.project and workspace.qualified in found
    ]
    projects = [
        project.name for project in tree.projects
        if project.name in found or any(name.startswith(project.name + "/") for name in workspaces)
    ]
    return Named(projects, workspaces)


_MATCHERS_KEPT = 4  # the current tree and a few before it (a 1,000-workspace tree holds ~2 MB of CLAUDE.md)
_matchers: dict[int, tuple[Tree, NameMatcher]] = {}
_matchers_lock = threading.Lock()


def matcher_for(tree: Tree) -> NameMatcher:
    """The matcher of `tree`'s project and workspace names, built once per tree (the tree source
    hands out one tree object until the folders change; a few recent ones are kept)."""
    with _matchers_lock:
        kept = _matchers.get(id(tree))
        if kept is not None and kept[0] is tree:  # the tree is held, so its id is not reused
            return kept[1]
    names = [project.name for project in tree.projects]
    names += [w.qualified for w in tree.workspaces() if w.qualified != w.project]
    matcher = NameMatcher(names)
    with _matchers_lock:
        _matchers[id(tree)] = (tree, matcher)
        while len(_matchers) > _MATCHERS_KEPT:
            del _matchers[next(iter(_matchers))]  # the oldest
    return matcher


def settled_route(text: str, tree: Tree) -> tuple[list[str], list[str]] | None:
    """(projects, workspaces) when no router is needed (a single-project tree, or a message
    addressed to one project or workspace that names no other), else None."""
    if len(tree.projects) == 1:
        return [tree.projects[0].name], []
    address = re.match(r"\s*(?:in\s+)?([^\s:,]+)\s*[:,]\s*\S", text, flags=re.IGNORECASE)
    if address is None:
        return None
    named = named_in(text, tree)
    target = address.group(1).casefold()
    if len(named.projects) != 1 or target not in (named.projects[0].casefold(), *(w.casefold() for w in named.workspaces)):
        return None  # addressed to something that is no project here, or other projects are named too
    return named.projects, [w for w in named.workspaces if w.casefold() == target]


def closest_projects(name: str, known: list[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """The known project names closest to `name`: those containing it or contained in it, then
    those most alike letter by letter (at most `limit`; none when nothing is close)."""
    folded = name.casefold()
    containing = [k for k in known if folded and (folded in k.casefold() or k.casefold() in folded)]
    alike = difflib.get_close_matches(folded, [k.casefold() for k in known], n=limit, cutoff=0.5)
    by_fold = {k.casefold(): k for k in known}
    return list(dict.fromkeys([*containing, *(by_fold[a] for a in alike)]))[:limit]


def unknown_question(unknown: list[str], known: list[str]) -> str:
    """What to ask when the router named projects that are not here: the closest known ones for
    each, or, when none is close, the projects there are."""
    parts = []
    for name in unknown:
        close = closest_projects(name, known)
        parts.append(f"{name} is not a project here; did you mean: {', '.join(close)}?" if close else f"{name} is not a project here.")
    if all("did you mean" not in part for part in parts):
        shown = ", ".join(known[:_MAX_LISTED]) + (f", … ({len(known) - _MAX_LISTED} more)" if len(known) > _MAX_LISTED else "")
        parts.append(f"The projects are: {shown}." if known else "No project was found under the root.")
    return " ".join(parts) + " Which do you mean?"


def parse_answer(answer: object, tree: Tree) -> RouteAnswer:
    """The router's JSON, checked against the tree (RoutingInvalid when unusable: the wrong
    shape, a project name that is unsafe or a lookalike (with the reason), an empty question;
    `UnknownProjects`, with the question to ask instead, for names that are no project here)."""
    try:
        route = msgspec.convert(answer, RouteAnswer)
    except msgspec.ValidationError as err:
        raise RoutingInvalid(f"the router's answer has the wrong shape ({err})") from err
    for name in route.projects:
        try:
            validate_name(name)
        except UnsafeName as err:
            # Unsafe is not unknown: a lookalike (`wеb-app` with a Cyrillic `е`) is told as such.
            raise RoutingInvalid(f"the router named {name!r}, which is refused as a project name: {err.reason}") from err
    known = [project.name for project in tree.projects]
    unknown = [name for name in route.projects if name not in known]
    if unknown:
        raise UnknownProjects(unknown, unknown_question(unknown, known))
    if route.clarification is not None and not route.clarification.strip():
        raise RoutingInvalid("the router asked an empty question")
    return route
