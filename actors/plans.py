"""Validating a planner's answer into a `Plan`: real workspaces of the routed projects and their
neighbours in the dependency graph only, no cycles, phases by layers; and the warnings a plan
earns against the graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from claude_tunnels.actors.tree import Graph, Tree, TreeError, UnsafeName, Workspace
from claude_tunnels.events.values import Plan, PlannedTask


class PlanInvalid(ValueError):
    """The planner's answer cannot be run; the message says why (shown to the person)."""


class TaskDraft(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One task as the planner writes it."""

    workspace: str
    task: str
    depends_on: list[str] = []


class PlanDraft(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The planner's structured answer."""

    label: str
    tasks: list[TaskDraft]


PLAN_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "description": "a short title for the whole request"},
        "tasks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "workspace": {"type": "string", "description": "qualified name: project/workspace"},
                    "task": {"type": "string", "description": "what to do in that workspace"},
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["workspace", "task"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["label", "tasks"],
    "additionalProperties": False,
}


def parse_draft(answer: object) -> PlanDraft:
    """The planner's JSON as a `PlanDraft` (PlanInvalid if it has the wrong shape)."""
    try:
        return msgspec.convert(answer, PlanDraft)
    except msgspec.ValidationError as err:
        raise PlanInvalid(f"the planner's answer has the wrong shape ({err})") from err


def _resolve(tree: Tree, name: str, projects: Sequence[str], offline: Callable[[str], str | None] | None = None) -> Workspace:
    try:
        found: Workspace | None = tree.workspace(name)
        first: TreeError | None = None
    except UnsafeName as err:
        # Unsafe is not unknown: a lookalike (`wеb-app` with a Cyrillic `е`) is told as such.
        raise PlanInvalid(f"the plan names {name!r}, which is refused as a workspace name: {err.reason}") from err
    except TreeError as err:
        found, first = None, err
    # A planner may write `ws` for `project/ws` when the request is about one project; that
    # reading wins over a project `ws` outside the route.
    if (found is None or found.project not in projects) and len(projects) == 1 and "/" not in name.strip("/"):
        try:
            return tree.workspace(f"{projects[0]}/{name}")
        except TreeError:
            pass
    if found is None:
        # A remote workspace whose agent went away is not in the tree: say so, not "unknown".
        if offline is not None and (why := offline(name)) is not None:
            raise PlanInvalid(f"the plan names {name!r}, which cannot run now: {why}") from first
        raise PlanInvalid(f"the plan names {name!r}, which is not a workspace here ({first})") from first
    return found


def _outside_route(workspace: Workspace, projects: Sequence[str], neighbours: Sequence[str] = ()) -> str | None:
    """Why a plan may not name ``workspace`` (``"outside the projects …"``) when the request was
    routed to ``projects`` (whose ``neighbours`` in the dependency graph are allowed too), or
    ``None`` when it lies in one of them."""
    if workspace.project in projects or workspace.project in neighbours:
        return None
    routed = f"({', '.join(projects)})" if projects else "(none)"
    around = f" and their neighbours in the dependency graph ({', '.join(neighbours)})" if neighbours else ""
    return (
        f"outside the projects this request was routed to {routed}{around}; name {workspace.project} in "
        "your request if it should be included"
    )


def layers(tasks: Sequence[PlannedTask]) -> list[list[str]]:
    """Phases as topological layers: a task runs in the phase after its last dependency."""
    depends = {task.workspace: set(task.depends_on) for task in tasks}
    phases: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(depends):
        ready = sorted(w for w, deps in depends.items() if w not in done and deps <= done)
        if not ready:
            cycle = sorted(w for w in depends if w not in done)
            raise PlanInvalid(f"the plan's dependencies form a cycle between {', '.join(cycle)}")
        phases.append(ready)
        done.update(ready)
    return phases


def validate(
    draft: PlanDraft, tree: Tree, projects: Sequence[str], *, neighbours: Sequence[str] = (), graph: Graph | None = None,
    offline: Callable[[str], str | None] | None = None,
) -> Plan:
    """A runnable plan, or PlanInvalid naming the first problem.

    Every task and dependency must name a workspace of the tree that lies in one of the routed
    ``projects`` or their ``neighbours`` (the projects the planner was shown): the planner's
    answer (which may have read hostile files) cannot widen that, and the person sees every
    project the plan touches before approving it. With ``graph``, the plan carries the
    warnings of ``graph_warnings``. ``offline`` says why a name that is no workspace now was one
    (a remote agent gone offline), for the refusal to name it."""
    if not draft.tasks:
        raise PlanInvalid("the planner found no workspace task to do")
    tasks: dict[str, PlannedTask] = {}
    raw_deps: dict[str, list[str]] = {}
    for draft_task in draft.tasks:
        found = _resolve(tree, draft_task.workspace, projects, offline)
        if (outside := _outside_route(found, projects, neighbours)) is not None:
            raise PlanInvalid(f"the plan has a task for {found.qualified}, which is {outside}")
        workspace = found.qualified
        if workspace in tasks:
            raise PlanInvalid(f"the plan has two tasks for {workspace}; one task per workspace")
        if not draft_task.task.strip():
            raise PlanInvalid(f"the task for {workspace} is empty")
        tasks[workspace] = PlannedTask(workspace=workspace, task=draft_task.task.strip())
        raw_deps[workspace] = draft_task.depends_on
    resolved: list[PlannedTask] = []
    for workspace, task in tasks.items():
        deps = []
        for dep in raw_deps[workspace]:
            found = _resolve(tree, dep, projects, offline)
            if (outside := _outside_route(found, projects, neighbours)) is not None:
                raise PlanInvalid(f"{workspace} depends on {found.qualified}, which is {outside}")
            qualified = found.qualified
            if qualified not in tasks:
                raise PlanInvalid(f"{workspace} depends on {qualified}, which has no task in the plan")
            if qualified == workspace:
                raise PlanInvalid(f"{workspace} depends on itself")
            deps.append(qualified)
        resolved.append(PlannedTask(workspace=workspace, task=task.task, depends_on=sorted(set(deps))))
    label = " ".join(draft.label.split())[:120] or "request"
    phases = layers(resolved)
    warnings = graph_warnings(resolved, phases, graph) if graph is not None else []
    return Plan(label=label, tasks=resolved, phases=phases, warnings=warnings)


def graph_warnings(tasks: Sequence[PlannedTask], phases: Sequence[Sequence[str]], graph: Graph) -> list[str]:
    """A line for each task that runs before or alongside (in the same phase as) a task of a
    workspace it uses per `graph`, directly or through others: its agent would work against the
    old version of what it uses."""
    phase_of = {workspace: number for number, phase in enumerate(phases, start=1) for workspace in phase}
    warnings = []
    for task in tasks:
        uses = graph.reachable(task.workspace)
        for other in sorted(uses & phase_of.keys() - {task.workspace}):
            mine, theirs = phase_of[task.workspace], phase_of[other]
            if mine == theirs:
                warnings.append(f"⚠ {task.workspace} depends on {other} but runs in the same phase")
            elif mine < theirs:
                warnings.append(f"⚠ {task.workspace} depends on {other} but runs before it (phase {mine}, {other} in phase {theirs})")
    return warnings
