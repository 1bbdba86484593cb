"""Descriptions: the first paragraph of prose of a CLAUDE.md, bounded; a project known only through
remote agents is described by what they announced."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.actors import prompts
from claude_tunnels.actors.tree import Tree, remote_workspace
from claude_tunnels.actors.tree.describe import describe
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.discovery import discover

LONG = "The web application. " + "It serves pages to people who ask for them, quickly and reliably. " * 6

ROWS = [
    ("# web-app\nThe web application.\n", "The web application."),
    ("---\ntest: pytest -q\ndepends_on: [shared-lib]\n---\n# web-app\n\nThe web application,\nin two lines.\n\nMore.",
     "The web application, in two lines."),
    ("\ufeff<!-- generated: do not edit\n  by hand -->\n# Title\n## Sub\nProse after headings.", "Prose after headings."),
    ("[![CI](https://ci/badge.svg)](https://ci) ![logo](logo.png)\n<p align=\"center\">\n<img src=\"x.png\">\n</p>\n\n"
     "**Fast** service for [orders](docs/orders.md), see `make run`.", "Fast service for orders, see `make run`."),
    ("Title\n=====\n\nSubtitle\n--------\n\n***\n\n```sh\nmake all\n```\n| a | b |\n|---|---|\n\nReal text.", "Real text."),
    ("# Only a list\n- builds the API\n- runs the jobs\n", "builds the API runs the jobs"),
    ("# A list, then prose\n- one\n\nThe prose wins.", "The prose wins."),
    ("# heading only\n", ""),
    ("", ""),
    (LONG, LONG[:199].rsplit(" ", 1)[0].rstrip(",. ") + "…"),
]


@pytest.mark.parametrize("claude_md, expected", ROWS)
def test_the_first_paragraph_of_prose(claude_md: str, expected: str) -> None:
    assert describe(claude_md) == expected
    assert len(describe(claude_md)) <= 200


def test_router_lines_describe_each_project_by_its_prose_not_its_heading(tmp_path: Path) -> None:
    root = lay_out(tmp_path)
    (root / "web-app" / "CLAUDE.md").write_text("---\ntest: make test\n---\n# web-app\n\nThe shop's website.\n")
    tree = discover(root)
    prompt = prompts.router_prompt("fix it", [], tree, 16000, 40000)
    assert "- web-app: The shop's website." in prompt
    assert "- shared-lib: The shared Python library used by web-app and api-service." in prompt
    assert "# " not in prompt.split("<user_message>")[0]


def test_a_project_known_only_through_remote_agents_is_described_by_what_they_announced(tmp_path: Path) -> None:
    tree = discover(lay_out(tmp_path)).with_remote([
        remote_workspace("edge", "worker", claude_md="---\ndepends_on: [web-app]\n---\n# worker\n\nRuns jobs at the edge.\n"),
        remote_workspace("edge", "cache", claude_md="# cache\n\nCaches pages near users.\n"),
        remote_workspace("silent", "box"),
    ])
    edge = tree.project("edge")
    assert edge.path is None and edge.description == "cache: Caches pages near users.; worker: Runs jobs at the edge."
    assert tree.workspace("edge/worker").description == "Runs jobs at the edge."
    prompt = prompts.router_prompt("do the thing", [], tree, 16000, 40000)
    assert "- edge: cache: Caches pages near users.; worker: Runs jobs at the edge." in prompt
    assert "- silent: (no description)" in prompt


def test_the_router_prompt_stays_under_its_budget_shortening_descriptions_then_leaving_projects_out() -> None:
    tree = Tree(root=Path("/r"), projects=()).with_remote(
        remote_workspace(f"project-{n:04}", "ws", claude_md=f"# p{n}\n\nProject number {n} " + "does things " * 30)
        for n in range(1000)
    )
    for budget in (4000, 40000, 200000):
        prompt = prompts.router_prompt("which one?", [], tree, 16000, budget)
        assert len(prompt) <= budget and "<user_message>which one?</user_message>" in prompt
    assert "more projects left out" in prompts.router_prompt("x", [], tree, 16000, 4000)
    assert "- project-0999\n" in prompts.router_prompt("x", [], tree, 16000, 40000)  # names only, all there
