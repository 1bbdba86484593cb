"""Routing a message to projects: deterministic when the message or the tree says, else an agent's answer."""

from __future__ import annotations

import re

import msgspec

from claude_tunnels.actors.tree import Tree, UnsafeName, validate_name


class RoutingInvalid(ValueError):
    """The router's answer cannot be used; the message says why (shown to the person)."""


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


def explicit_route(text: str, tree: Tree) -> tuple[list[str], list[str]] | None:
    """(projects, workspaces) when the text names them (`project` or `project/workspace`), or the
    tree has a single project; None when an agent has to decide."""
    named_projects: list[str] = []
    named_workspaces: list[str] = []
    for workspace in tree.workspaces():
        if workspace.qualified != workspace.project and _mentions(text, workspace.qualified):
            named_workspaces.append(workspace.qualified)
    for project in tree.projects:
        if _mentions(text, project.name) or any(w.startswith(project.name + "/") for w in named_workspaces):
            named_projects.append(project.name)
    if named_projects:
        return named_projects, named_workspaces
    if len(tree.projects) == 1:
        return [tree.projects[0].name], []
    return None


def _mentions(text: str, name: str) -> bool:
    # A name counts when it stands alone: not inside a longer word or path.
    return re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])", text, flags=re.IGNORECASE) is not None


def parse_answer(answer: object, tree: Tree) -> RouteAnswer:
    """The router's JSON, checked against the tree (RoutingInvalid when unusable: the wrong
    shape, a project name that is unsafe or a lookalike (with the reason), an unknown project)."""
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
    known = {project.name for project in tree.projects}
    unknown = [name for name in route.projects if name not in known]
    if unknown:
        raise RoutingInvalid(f"the router named unknown projects: {', '.join(unknown)}")
    if route.clarification is not None and not route.clarification.strip():
        raise RoutingInvalid("the router asked an empty question")
    return route
