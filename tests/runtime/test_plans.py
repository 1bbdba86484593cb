"""Plan validation: only real workspaces, no cycles, phases by layers, hostile names refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunnels.demo.sample_tree import lay_out
from tunnels.plans import PlanDraft, PlanInvalid, TaskDraft, layers, parse_draft, validate
from tunnels.tree import Tree, discover
from events.values import PlannedTask


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
        ((("shared-lib/core", []), ("shared-lib/core", [])), "two tasks for shared-lib/core"),
        ((("nope/none", []),), "not a workspace"),
        ((("../../etc", []),), "not a workspace"),
        ((("/etc/passwd", []),), "not a workspace"),
        ((("shared-lib/../web-app/backend", []),), "not a workspace"),
        ((("web-app/linked", []),), "not a workspace"),
        ((("web-app/.hidden", []),), "not a workspace"),
        ((("shared-lib/.git", []),), "not a workspace"),
        ((), "no workspace task"),
    ],
)
def test_invalid_plans_are_refused_with_the_reason(tree: Tree, tasks: tuple, message: str) -> None:
    with pytest.raises(PlanInvalid, match=message):
        validate(draft(*tasks), tree, ["shared-lib", "web-app"])


def test_a_malformed_answer_is_refused() -> None:
    with pytest.raises(PlanInvalid, match="wrong shape"):
        parse_draft({"tasks": "all of them"})
    with pytest.raises(PlanInvalid, match="wrong shape"):
        parse_draft({"label": "x", "tasks": [{"workspace": "a", "task": "b", "rm": "-rf"}]})


def test_layers_of_independent_tasks_is_one_phase() -> None:
    assert layers([PlannedTask(workspace="a", task="x"), PlannedTask(workspace="b", task="y")]) == [["a", "b"]]
