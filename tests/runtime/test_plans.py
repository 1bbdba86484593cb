"""Plan validation: only real workspaces of the routed projects, no cycles, phases by layers, hostile
and lookalike names refused with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from claude_tunnels.actors.plans import PlanDraft, PlanInvalid, TaskDraft, graph_warnings, layers, parse_draft, validate
from claude_tunnels.actors.scope import planning_scope
from claude_tunnels.actors.tree import Tree
from claude_tunnels.actors.tree.graph import merged
from claude_tunnels.events.values import PlannedTask
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.discovery import discover


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = lay_out(tmp_path / "tree")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "CLAUDE.md").write_text("# secret\n")
    os.symlink(outside, root / "web-app" / "linked")  # a workspace-looking folder outside the root
    (root / "web-app" / ".hidden").mkdir()
    (root / "web-app" / ".hidden" / "CLAUDE.md").write_text("# hidden\n")
    return discover(root)


def with_ids(*tasks: tuple[str, str, list[str]]) -> PlanDraft:
    """A draft whose tasks carry ids: `(id, workspace, depends_on)`."""
    return PlanDraft(label="l", tasks=[TaskDraft(id=i, workspace=w, task=f"do {w}", depends_on=d) for i, w, d in tasks])


def draft(*tasks: tuple[str, list[str]]) -> PlanDraft:
    return PlanDraft(label="l", tasks=[TaskDraft(workspace=w, task=f"do {w}", depends_on=d) for w, d in tasks])


def test_phases_are_topological_layers(tree: Tree) -> None:
    plan = validate(draft(
        ("web-app/frontend", ["web-app/backend"]), ("shared-lib/core", []), ("web-app/backend", ["shared-lib/core"]),
        ("shared-lib/docs", ["shared-lib/core"]), ("api-service", []),
    ), tree, ["shared-lib", "web-app", "api-service"])
    assert plan.phases == [["api-service", "shared-lib/core"], ["shared-lib/docs", "web-app/backend"], ["web-app/frontend"]]


def test_a_bare_workspace_name_is_resolved_within_the_single_routed_project(tree: Tree) -> None:
    plan = validate(draft(("core", []), ("docs", ["core"])), tree, ["shared-lib"])
    assert [t.workspace for t in plan.tasks] == ["shared-lib/core", "shared-lib/docs"]
    assert plan.tasks[1].depends_on == ["shared-lib/core"]


@pytest.mark.parametrize(
    "tasks, message",
    [
        ((("shared-lib/core", ["shared-lib/docs"]), ("shared-lib/docs", ["shared-lib/core"])), "cycle"),
        ((("shared-lib/core", ["shared-lib/core"]),), "depends on itself"),
        ((("shared-lib/core", ["web-app/backend"]),), "has no task in the plan"),
        ((("nope/none", []),), "'nope/none', which is not a workspace here"),
        ((("web-app/linked", []),), "'web-app/linked', which is not a workspace here"),
        ((("../../etc", []),), "'../../etc', which is refused as a workspace name: `..` components"),
        ((("/etc/passwd", []),), "'/etc/passwd', which is refused as a workspace name: absolute paths"),
        ((("shared-lib/../web-app/backend", []),), "refused as a workspace name: `..` components"),
        ((("web-app/.hidden", []),), "refused as a workspace name: hidden component"),
        ((("shared-lib/.git", []),), "refused as a workspace name: hidden component"),
        ((), "no workspace task"),
    ],
)
def test_invalid_plans_are_refused_with_the_reason(tree: Tree, tasks: tuple, message: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        validate(draft(*tasks), tree, ["shared-lib", "web-app"])
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "tasks, message",
    [
        # A Cyrillic `е` (U+0435): reads as web-app/backend, is told as a lookalike, not as unknown.
        ((("w\u0435b-app/backend", []),),
         "the plan names 'wеb-app/backend', which is refused as a workspace name: it mixes Latin and Cyrillic "
         "letters (U+0435 is CYRILLIC SMALL LETTER IE)"),
        ((("shared-lib/core", []), ("shared-lib/docs", ["shared-lib/c\u043ere"])),
         "the plan names 'shared-lib/cоre', which is refused as a workspace name: it mixes Latin and Cyrillic"),
        ((("shared-lib/do\u0308cs", []),),
         "which is refused as a workspace name: it is not in Unicode NFC form (U+006F U+0308 where NFC has U+00F6)"),
    ],
)
def test_a_lookalike_workspace_is_refused_as_such(tree: Tree, tasks: tuple, message: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        validate(draft(*tasks), tree, ["shared-lib", "web-app"])
    assert message in str(caught.value)
    assert "not a workspace here" not in str(caught.value)


OUTSIDE = (
    "outside the projects this request was routed to (shared-lib, web-app); name api-service in your "
    "request if it should be included"
)


@pytest.mark.parametrize(
    "tasks, projects, message",
    [
        ((("api-service", []),), ["shared-lib", "web-app"], f"the plan has a task for api-service, which is {OUTSIDE}"),
        ((("shared-lib/core", []), ("api-service", ["shared-lib/core"])), ["shared-lib", "web-app"],
         f"the plan has a task for api-service, which is {OUTSIDE}"),
        # A dependency outside the route is named as such, before "has no task in the plan".
        ((("shared-lib/core", ["api-service"]),), ["shared-lib", "web-app"],
         f"shared-lib/core depends on api-service, which is {OUTSIDE}"),
        ((("web-app/backend", []),), ["shared-lib"],
         "the plan has a task for web-app/backend, which is outside the projects this request was routed to "
         "(shared-lib); name web-app in your request if it should be included"),
        # A bare name that is no workspace of the single routed project is not taken from elsewhere.
        ((("api-service", []),), ["web-app"], "routed to (web-app); name api-service in your request"),
    ],
)
def test_a_plan_stays_inside_the_routed_projects(tree: Tree, tasks: tuple, projects: list[str], message: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        validate(draft(*tasks), tree, projects)
    assert message in str(caught.value)


def test_a_plan_inside_the_route_passes(tree: Tree) -> None:
    plan = validate(draft(("web-app/backend", []), ("web-app/frontend", ["web-app/backend"])), tree, ["web-app"])
    assert plan.phases == [["web-app/backend"], ["web-app/frontend"]]


def test_a_bare_name_prefers_the_routed_project(tmp_path: Path) -> None:
    for folder in ("core", "lib", "lib/core"):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "CLAUDE.md").write_text(f"# {folder}\n")
    plan = validate(draft(("core", [])), discover(tmp_path), ["lib"])
    assert [task.workspace for task in plan.tasks] == ["lib/core"]


def test_a_malformed_answer_is_refused() -> None:
    with pytest.raises(PlanInvalid, match="wrong shape"):
        parse_draft({"tasks": "all of them"})
    with pytest.raises(PlanInvalid, match="wrong shape"):
        parse_draft({"label": "x", "tasks": [{"workspace": "a", "task": "b", "rm": "-rf"}]})


def test_layers_of_independent_tasks_is_one_phase() -> None:
    assert layers([PlannedTask(workspace="a", task="x"), PlannedTask(workspace="b", task="y")]) == [["a", "b"]]


# -- the dependency graph: neighbours may be planned for, and a plan against it is warned about --


@pytest.fixture
def graphed(tmp_path: Path) -> Tree:
    """The sample tree with its dependencies declared: web-app's workspaces use shared-lib/core,
    qa uses web-app, and api-service stands apart."""
    root = lay_out(tmp_path / "tree")
    (root / "shared-lib/core/pyproject.toml").write_text('[project]\nname = "shared-lib"\n')
    (root / "web-app/frontend/package.json").write_text('{"name": "frontend", "dependencies": {"backend": "file:../backend"}}')
    (root / "qa").mkdir()
    (root / "qa/CLAUDE.md").write_text("---\ndepends_on: [web-app]\n---\n# qa\nIntegration tests.\n")
    return discover(root)


def test_a_plan_may_name_the_neighbours_the_planner_was_shown_and_no_other_project(graphed: Tree) -> None:
    scope = planning_scope(graphed, ["web-app"])
    assert scope.neighbours == ("qa", "shared-lib")  # qa uses web-app; web-app/backend's requirements name shared-lib
    plan = validate(draft(("web-app/backend", []), ("qa", ["web-app/backend"])), graphed, ["web-app"], neighbours=scope.neighbours)
    assert plan.projects == ["web-app", "qa"]
    with pytest.raises(PlanInvalid) as caught:
        validate(draft(("api-service", []),), graphed, ["web-app"], neighbours=scope.neighbours)
    assert str(caught.value) == (
        "the plan has a task for api-service, which is outside the projects this request was routed to (web-app) and their "
        "neighbours in the dependency graph (qa, shared-lib); name api-service in your request if it should be included"
    )


def test_a_task_running_before_or_alongside_what_it_uses_is_warned_about(graphed: Tree) -> None:
    graph = graphed.graph()
    plan = validate(
        draft(("shared-lib/core", []), ("web-app/backend", []), ("web-app/frontend", []), ("qa", ["web-app/frontend"])),
        graphed, ["web-app", "shared-lib", "qa"], graph=graph,
    )
    assert plan.phases == [["shared-lib/core", "web-app/backend", "web-app/frontend"], ["qa"]]
    assert plan.warnings == [
        "⚠ web-app/backend depends on shared-lib/core but runs in the same phase",
        "⚠ web-app/frontend depends on shared-lib/core but runs in the same phase",  # through backend
        "⚠ web-app/frontend depends on web-app/backend but runs in the same phase",
    ]
    before = validate(draft(("web-app/backend", []), ("shared-lib/core", ["web-app/backend"])), graphed, ["web-app", "shared-lib"], graph=graph)
    assert before.warnings == ["⚠ web-app/backend depends on shared-lib/core but runs before it (phase 1, shared-lib/core in phase 2)"]
    ordered = validate(draft(("shared-lib/core", []), ("web-app/backend", ["shared-lib/core"])), graphed, ["web-app", "shared-lib"], graph=graph)
    assert ordered.warnings == []


def test_a_dependency_through_a_workspace_outside_the_plan_is_warned_about_too() -> None:
    graph = merged([("web/app", "lib/adapter", "pyproject name"), ("lib/adapter", "core/api", "go.mod require")])
    tasks = [PlannedTask(workspace="web/app", task="x"), PlannedTask(workspace="core/api", task="y")]
    assert graph_warnings(tasks, [["core/api", "web/app"]], graph) == ["⚠ web/app depends on core/api but runs in the same phase"]
    assert graph_warnings(tasks, [["core/api"], ["web/app"]], graph) == []


def test_a_workspace_may_have_several_tasks_one_phase_at_a_time(tree: Tree) -> None:
    plan = validate(with_ids(
        ("t1", "shared-lib/core", []), ("t2", "web-app/backend", ["t1"]), ("t3", "api-service", ["t1"]),
        ("t4", "shared-lib/core", ["t2", "t3"]),
    ), tree, ["shared-lib", "web-app", "api-service"])
    assert plan.phases == [["t1"], ["t3", "t2"], ["t4"]]
    assert [(t.key, t.workspace, t.depends_on) for t in plan.tasks] == [
        ("t1", "shared-lib/core", []), ("t2", "web-app/backend", ["t1"]), ("t3", "api-service", ["t1"]),
        ("t4", "shared-lib/core", ["t2", "t3"]),
    ]
    assert plan.label_of("t4") == "shared-lib/core [t4]" and plan.ordinal("t4") == 2 and plan.ordinal("t1") == 1


def test_two_independent_tasks_of_a_workspace_are_serialised_in_the_order_written(tree: Tree) -> None:
    plan = validate(with_ids(("a", "shared-lib/core", []), ("b", "shared-lib/core", []), ("c", "shared-lib/docs", [])), tree, ["shared-lib"])
    assert plan.phases == [["a", "c"], ["b"]]


def test_without_ids_a_workspace_with_one_task_keeps_its_name_as_the_key(tree: Tree) -> None:
    plan = validate(draft(("shared-lib/core", []), ("shared-lib/docs", ["shared-lib/core"])), tree, ["shared-lib"])
    assert [t.key for t in plan.tasks] == ["shared-lib/core", "shared-lib/docs"]
    assert b'"id"' not in msgspec.json.encode(plan)  # written like a plan recorded before ids


def test_without_ids_two_tasks_of_a_workspace_get_ids_by_their_place(tree: Tree) -> None:
    plan = validate(draft(("shared-lib/core", []), ("shared-lib/docs", []), ("shared-lib/core", [])), tree, ["shared-lib"])
    assert [t.key for t in plan.tasks] == ["t1", "t2", "t3"]
    assert plan.phases == [["t1", "t2"], ["t3"]]


def test_a_dependency_may_name_a_workspace_that_has_one_task(tree: Tree) -> None:
    plan = validate(with_ids(("t1", "shared-lib/core", []), ("t2", "shared-lib/docs", ["shared-lib/core"])), tree, ["shared-lib"])
    assert plan.tasks[1].depends_on == ["t1"]


@pytest.mark.parametrize(
    "tasks, message",
    [
        ((("t1", "shared-lib/core", []), ("t1", "shared-lib/docs", [])), "two tasks with the id t1 (tasks 1 and 2); give each task its own id"),
        ((("t1", "shared-lib/core", ["t9"]),), "t1 (shared-lib/core) depends on 't9', which is neither a task id of the plan (t1) nor a workspace"),
        ((("t1", "shared-lib/core", ["t1"]),), "t1 (shared-lib/core) depends on itself"),
        ((("t1", "shared-lib/core", ["t2"]), ("t2", "shared-lib/docs", ["t1"])), "the plan's dependencies form a cycle between t1, t2"),
        ((("t1", "shared-lib/core", []), ("t2", "shared-lib/core", ["t3"]), ("t3", "shared-lib/docs", ["shared-lib/core"])),
         "t3 (shared-lib/docs) depends on shared-lib/core, which has several tasks (t1, t2); name the task id"),
        ((("t1", "shared-lib/core", ["web-app/backend"]),), "depends on web-app/backend, which has no task in the plan"),
        ((("t 1", "shared-lib/core", []),), "the task for shared-lib/core has the id 't 1'; an id is a short name"),
        ((("shared-lib/core", "shared-lib/core", []),), "has the id 'shared-lib/core'"),
    ],
    ids=["duplicate id", "unknown id", "self", "cycle", "ambiguous workspace", "no task", "bad id", "id with a slash"],
)
def test_plans_with_task_ids_are_refused_with_the_reason(tree: Tree, tasks: tuple, message: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        validate(with_ids(*tasks), tree, ["shared-lib", "web-app"])
    assert message in str(caught.value)


def test_a_later_task_of_a_used_workspace_earns_no_warning() -> None:
    tasks = [
        PlannedTask(id="t1", workspace="core/api", task="v2"), PlannedTask(id="t2", workspace="web/app", task="use v2", depends_on=["t1"]),
        PlannedTask(id="t3", workspace="core/api", task="tests", depends_on=["t2"]),
    ]
    graph = merged([("web/app", "core/api", "pyproject name")])
    assert graph_warnings(tasks, [["t1"], ["t2"], ["t3"]], graph) == []
    assert graph_warnings(tasks, [["t2"], ["t1"], ["t3"]], graph) == ["⚠ web/app depends on core/api but runs before it (phase 1, core/api in phase 2)"]
