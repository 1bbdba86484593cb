"""Validating a planner's answer into a `Plan`: real workspaces of the routed projects and their
neighbours in the dependency graph only, task ids unique, dependencies between known tasks without
cycles, phases by layers of tasks (a workspace's tasks never in one phase); and the warnings a
plan earns against the graph."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import msgspec

from claude_tunnels.actors.tree import Graph, Tree, TreeError, UnsafeName, Workspace
from claude_tunnels.events.values import Plan, PlannedTask


class PlanInvalid(ValueError):
    """The planner's answer cannot be run; the message says why (shown to the person)."""


class TaskDraft(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One task as the planner writes it: `id` a short name ("t1"), `depends_on` the ids (or,
    when unambiguous, the workspaces) of the tasks it needs."""

    workspace: str
    task: str
    depends_on: list[str] = []
    id: str = ""


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
                    "id": {"type": "string", "description": "a short id for the task, unique in the plan: t1, t2, …"},
                    "workspace": {"type": "string", "description": "qualified name: project/workspace"},
                    "task": {"type": "string", "description": "what to do in that workspace"},
                    "depends_on": {
                        "type": "array", "items": {"type": "string"}, "description": "the ids of the tasks whose results this one needs",
                    },
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


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def layers(tasks: Sequence[PlannedTask]) -> list[list[str]]:
    """Phases as topological layers of task keys: a task runs in the phase after its last
    dependency, and a workspace's tasks one at a time (of two ready together, the one written
    first runs first, the other in a later phase)."""
    depends = {task.key: set(task.depends_on) for task in tasks}
    workspace = {task.key: task.workspace for task in tasks}
    place = {task.key: number for number, task in enumerate(tasks)}
    phases: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(depends):
        ready = sorted((k for k, deps in depends.items() if k not in done and deps <= done), key=lambda k: place[k])
        if not ready:
            cycle = sorted(k for k in depends if k not in done)
            raise PlanInvalid(f"the plan's dependencies form a cycle between {', '.join(cycle)}")
        phase: dict[str, str] = {}
        for key in ready:
            phase.setdefault(workspace[key], key)
        phases.append(sorted(phase.values(), key=lambda k: (workspace[k], place[k])))
        done.update(phase.values())
    return phases


def _keys(draft: PlanDraft, workspaces: list[str]) -> list[str | msgspec.UnsetType]:
    """Each draft task's id: none at all (`UNSET`, the key is the workspace) when the planner gave
    none and no workspace has two tasks; else the planner's, or `t<n>` by its place when missing."""
    given = [task.id.strip() for task in draft.tasks]
    if not any(given) and len(set(workspaces)) == len(workspaces):
        return [msgspec.UNSET for _ in given]
    seen: dict[str, int] = {}
    for number, (task_id, workspace) in enumerate(zip(given, workspaces, strict=True), start=1):
        if not task_id:
            continue
        if not _ID.fullmatch(task_id):
            raise PlanInvalid(
                f"the task for {workspace} has the id {task_id!r}; an id is a short name of letters, digits, `.`, `_` "
                "and `-` (t1, t2, …)"
            )
        if task_id in seen:
            raise PlanInvalid(f"the plan has two tasks with the id {task_id} (tasks {seen[task_id]} and {number}); give each task its own id")
        seen[task_id] = number
    keys: list[str | msgspec.UnsetType] = []
    for number, task_id in enumerate(given, start=1):
        if not task_id:
            task_id = next(f"t{n}" for n in range(number, number + len(given) + 1) if f"t{n}" not in seen)
            seen[task_id] = number
        keys.append(task_id)
    return keys


def validate(
    draft: PlanDraft, tree: Tree, projects: Sequence[str], *, neighbours: Sequence[str] = (), graph: Graph | None = None,
    offline: Callable[[str], str | None] | None = None,
) -> Plan:
    """A runnable plan, or PlanInvalid naming the first problem.

    Every task and dependency must name a workspace of the tree that lies in one of the routed
    ``projects`` or their ``neighbours`` (the projects the planner was shown): the planner's
    answer (which may have read hostile files) cannot widen that, and the person sees every
    project the plan touches before approving it. Task ids are unique; a dependency names a task
    of the plan by its id, or by its workspace when that workspace has one task; no task depends
    on itself, no dependencies form a cycle. With ``graph``, the plan carries the warnings of
    ``graph_warnings``. ``offline`` says why a name that is no workspace now was one (a remote
    agent gone offline), for the refusal to name it."""
    if not draft.tasks:
        raise PlanInvalid("the planner found no workspace task to do")
    workspaces: list[str] = []
    for draft_task in draft.tasks:
        found = _resolve(tree, draft_task.workspace, projects, offline)
        if (outside := _outside_route(found, projects, neighbours)) is not None:
            raise PlanInvalid(f"the plan has a task for {found.qualified}, which is {outside}")
        if not draft_task.task.strip():
            raise PlanInvalid(f"the task for {found.qualified} is empty")
        workspaces.append(found.qualified)
    ids = _keys(draft, workspaces)
    keys = [task_id if isinstance(task_id, str) else workspace for task_id, workspace in zip(ids, workspaces, strict=True)]
    by_workspace: dict[str, list[str]] = {}
    for key, workspace in zip(keys, workspaces, strict=True):
        by_workspace.setdefault(workspace, []).append(key)
    resolved: list[PlannedTask] = []
    for draft_task, key, workspace, task_id in zip(draft.tasks, keys, workspaces, ids, strict=True):
        name = workspace if key == workspace else f"{key} ({workspace})"
        deps = [_dependency(tree, dep, name, keys, by_workspace, projects, neighbours, offline) for dep in draft_task.depends_on]
        if key in deps:
            raise PlanInvalid(f"{name} depends on itself")
        resolved.append(PlannedTask(workspace=workspace, task=draft_task.task.strip(), depends_on=sorted(set(deps)), id=task_id))
    label = " ".join(draft.label.split())[:120] or "request"
    phases = layers(resolved)
    warnings = graph_warnings(resolved, phases, graph) if graph is not None else []
    return Plan(label=label, tasks=resolved, phases=phases, warnings=warnings)


def _dependency(
    tree: Tree, dep: str, name: str, keys: Sequence[str], by_workspace: dict[str, list[str]], projects: Sequence[str],
    neighbours: Sequence[str], offline: Callable[[str], str | None] | None,
) -> str:
    """The key of the task `dep` names (a task id, or the workspace of exactly one task)."""
    if dep.strip() in keys:
        return dep.strip()
    try:
        found = _resolve(tree, dep, projects, offline)
    except PlanInvalid as err:
        if "/" not in dep and not isinstance(err.__cause__, UnsafeName):
            raise PlanInvalid(f"{name} depends on {dep!r}, which is neither a task id of the plan ({', '.join(keys)}) nor a workspace") from err
        raise
    if (outside := _outside_route(found, projects, neighbours)) is not None:
        raise PlanInvalid(f"{name} depends on {found.qualified}, which is {outside}")
    tasks = by_workspace.get(found.qualified, [])
    if not tasks:
        raise PlanInvalid(f"{name} depends on {found.qualified}, which has no task in the plan")
    if len(tasks) > 1:
        raise PlanInvalid(f"{name} depends on {found.qualified}, which has several tasks ({', '.join(tasks)}); name the task id")
    return tasks[0]


def graph_warnings(tasks: Sequence[PlannedTask], phases: Sequence[Sequence[str]], graph: Graph) -> list[str]:
    """A line for each task that runs before or alongside (in the same phase as) the first task of
    a workspace it uses per `graph`, directly or through others: its agent would work against the
    old version of what it uses. (A later task of a used workspace, such as its tests run after
    its users were updated, is no reason for a warning.)"""
    phase_of = {key: number for number, phase in enumerate(phases, start=1) for key in phase}
    first: dict[str, int] = {}
    for task in tasks:
        first[task.workspace] = min(first.get(task.workspace, phase_of[task.key]), phase_of[task.key])
    warnings: list[str] = []
    for task in tasks:
        uses = graph.reachable(task.workspace)
        mine = phase_of[task.key]
        for other in sorted(uses & first.keys() - {task.workspace}):
            theirs = first[other]
            if mine == theirs:
                line = f"⚠ {task.workspace} depends on {other} but runs in the same phase"
            elif mine < theirs:
                line = f"⚠ {task.workspace} depends on {other} but runs before it (phase {mine}, {other} in phase {theirs})"
            else:
                continue
            if line not in warnings:
                warnings.append(line)
    return warnings
