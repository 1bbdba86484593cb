"""Validating a planner's answer into a `Plan`: real workspaces only, no cycles, phases by layers."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from events.values import Plan, PlannedTask
from tunnels.tree import Tree, TreeError


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


def _resolve(tree: Tree, name: str, projects: Sequence[str]) -> str:
    try:
        return tree.workspace(name).qualified
    except TreeError as first:
        # A planner may write `ws` for `project/ws` when the request is about one project.
        if len(projects) == 1 and "/" not in name.strip("/"):
            try:
                return tree.workspace(f"{projects[0]}/{name}").qualified
            except TreeError:
                pass
        raise PlanInvalid(f"the plan names {name!r}, which is not a workspace here ({first})") from first


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


def validate(draft: PlanDraft, tree: Tree, projects: Sequence[str]) -> Plan:
    """A runnable plan, or PlanInvalid naming the first problem."""
    if not draft.tasks:
        raise PlanInvalid("the planner found no workspace task to do")
    tasks: dict[str, PlannedTask] = {}
    raw_deps: dict[str, list[str]] = {}
    for draft_task in draft.tasks:
        workspace = _resolve(tree, draft_task.workspace, projects)
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
            qualified = _resolve(tree, dep, projects)
            if qualified not in tasks:
                raise PlanInvalid(f"{workspace} depends on {qualified}, which has no task in the plan")
            if qualified == workspace:
                raise PlanInvalid(f"{workspace} depends on itself")
            deps.append(qualified)
        resolved.append(PlannedTask(workspace=workspace, task=task.task, depends_on=sorted(set(deps))))
    label = " ".join(draft.label.split())[:120] or "request"
    return Plan(label=label, tasks=resolved, phases=layers(resolved))
