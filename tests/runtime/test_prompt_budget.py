"""The planner's prompt stays under `limits.planner_prompt_chars` whatever the size of the tree:
one line per workspace and the graph, the routed projects' workspaces kept, the farthest
neighbours left out first and counted. On a generated tree of 1,000 workspaces, read from disk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from claude_tunnels.actors import prompts
from claude_tunnels.actors.scope import planning_scope
from claude_tunnels.actors.tree import Tree
from claude_tunnels.events.conversation import Turn
from claude_tunnels.tunnels.demo.large_tree import lay_out_large
from claude_tunnels.tunnels.discovery import discover


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return discover(lay_out_large(tmp_path_factory.mktemp("large"), 100, 10))


def listed(prompt: str) -> list[str]:
    return re.findall(r"^- ([^\s:]+)", prompt.split("<workspaces>")[1].split("</workspaces>")[0], flags=re.MULTILINE)


@pytest.mark.parametrize("budget", [8000, 60000, 400000])
def test_the_prompt_of_a_1000_workspace_tree_stays_under_the_budget_nearest_first(large: Tree, budget: int) -> None:
    assert len(large.workspaces()) == 1000 and len(large.graph().edges) == 999
    scope = planning_scope(large, ["project-050"])
    assert len(scope.distances) == 100  # a chain: every project is a neighbour, up to 50 hops away
    prompt = prompts.planner_prompt("upgrade it", [], [], large, scope, 16000, budget)
    assert len(prompt) <= budget
    names = listed(prompt)
    assert names[:10] == [f"project-050/ws-{n:02}" for n in range(10)]  # the routed project's, first
    hops = [scope.distances[name.split("/")[0]] for name in names]
    assert hops == sorted(hops)  # nearest first: whatever is left out is farther than all that is in
    if len(names) < 1000:
        assert f"({1000 - len(names)} more workspaces in scope, the farthest" in prompt
    else:
        assert "more workspaces in scope" not in prompt
    assert prompt.endswith("<user_message>upgrade it</user_message>\n\nPlan the workspace tasks.")
    graph = prompt.split("<dependency_graph>")[1].split("</dependency_graph>")[0]
    assert "project-050/ws-01 -> project-050/ws-00" in graph and "project-051/ws-00 -> project-050/ws-00" in graph


def test_the_whole_prompt_fits_with_the_longest_request_history_and_revisions(large: Tree) -> None:
    scope = planning_scope(large, ["project-000", "project-099"])
    history = [Turn(role="user", text="earlier " * 3000), Turn(role="assistant", text="<reply> " * 3000)]
    revisions = [f"revision {n}: " + "also this & that " * 1000 for n in range(50)]
    for budget in (8000, 60000):
        prompt = prompts.planner_prompt("<do it> " * 5000, revisions, history, large, scope, 16000, budget)
        assert len(prompt) <= budget
        assert listed(prompt)[:2] == ["project-000/ws-00", "project-000/ws-01"]
        assert "<revision number=\"50\">" in prompt  # the latest is always there
        assert ("<revision number=\"1\">" in prompt) == (budget == 60000)  # the earliest go first when short
        assert ("earlier revisions left out" in prompt) == (budget == 8000)


def test_a_small_tree_is_listed_whole_with_its_remote_cards(tmp_path: Path) -> None:
    from claude_tunnels.actors.tree import remote_workspace
    from claude_tunnels.tunnels.demo.sample_tree import lay_out

    tree = discover(lay_out(tmp_path)).with_remote([
        remote_workspace("web-app", "edge", claude_md="# edge\n\nServes the app at the edge.\n\nDeploy with `make edge`."),
    ])
    scope = planning_scope(tree, ["web-app"])
    prompt = prompts.planner_prompt("ship it", [], [], tree, scope, 16000, 60000)
    # shared-lib is a neighbour: web-app/backend's requirements name the library shared-lib/core provides.
    assert listed(prompt) == ["web-app/backend", "web-app/edge", "web-app/frontend", "shared-lib/core", "shared-lib/docs"]
    assert "- web-app/edge (remote): Serves the app at the edge." in prompt
    assert '<claude_md workspace="web-app/edge">' in prompt and "Deploy with `make edge`." in prompt  # room to spare
