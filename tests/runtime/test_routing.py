"""Routing on a discovered tree: the names a message mentions (hints), the two cases that need no
router, the closest known projects for an unknown one, and the router's answer checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.actors.routing import (
    Named,
    RoutingInvalid,
    UnknownProjects,
    closest_projects,
    named_in,
    parse_answer,
    settled_route,
    unknown_question,
)
from claude_tunnels.actors.tree import Tree
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.discovery import discover


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return discover(lay_out(tmp_path / "tree"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("bump shared-lib please", Named(["shared-lib"], [])),
        ("fix web-app/frontend and api-service", Named(["api-service", "web-app"], ["web-app/frontend"])),  # tree order
        ("Web-App is broken", Named(["web-app"], [])),
        ("upgrade the shared library", Named([], [])),
        ("the shared-library-v2 plan", Named([], [])),  # a longer word is not the name
        ("see docs/web-app-notes", Named([], [])),
    ],
)
def test_names_a_message_mentions(tree: Tree, text: str, expected: Named) -> None:
    assert named_in(text, tree) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("in web-app: fix the login", (["web-app"], [])),
        ("web-app: fix the login", (["web-app"], [])),
        ("In Web-App, fix the login", (["web-app"], [])),
        ("in web-app/frontend: fix the login", (["web-app"], ["web-app/frontend"])),
        # Names alone are hints for the router, never a route of their own.
        ("fix the login in web-app", None),
        ("bump shared-lib please", None),
        # Addressed, but another project is named too: the router decides.
        ("in web-app: use what api-service does", None),
        ("in web-app: then shared-lib/core", None),
        # Addressed to something that is no project.
        ("Note: web-app is slow", None),
        ("in the web app: fix the login", None),
        ("in web-app", None),  # nothing after the address
    ],
)
def test_the_routes_that_need_no_router(tree: Tree, text: str, expected: tuple[list[str], list[str]] | None) -> None:
    assert settled_route(text, tree) == expected


def test_a_single_project_tree_needs_no_router(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "CLAUDE.md").write_text("# only\n")
    assert settled_route("do anything", discover(tmp_path)) == (["only"], [])


@pytest.mark.parametrize(
    "name, expected",
    [
        ("wbe-app", ["web-app"]), ("web", ["web-app"]), ("shared", ["shared-lib"]), ("API-SERVICE2", ["api-service"]),
        ("zeta", []),
    ],
)
def test_the_closest_known_projects(name: str, expected: list[str]) -> None:
    assert closest_projects(name, ["api-service", "shared-lib", "web-app"]) == expected


def test_an_unknown_project_is_answered_with_the_known_ones_when_none_is_close() -> None:
    known = [f"p{n:02}" for n in range(25)]
    assert unknown_question(["zeta"], known) == (
        f"zeta is not a project here. The projects are: {', '.join(known[:20])}, … (5 more). Which do you mean?"
    )
    assert unknown_question(["zeta"], []) == "zeta is not a project here. No project was found under the root. Which do you mean?"


def test_an_unknown_project_in_the_answer_becomes_a_question(tree: Tree) -> None:
    with pytest.raises(UnknownProjects) as raised:
        parse_answer({"projects": ["web-app", "zeta-app"]}, tree)
    assert raised.value.unknown == ["zeta-app"]
    assert raised.value.question == "zeta-app is not a project here; did you mean: web-app? Which do you mean?"


@pytest.mark.parametrize(
    "answer, message",
    [
        # Lookalikes of web-app are told as such (Cyrillic `е`, a decomposed `é`), not as unknown.
        ({"projects": ["w\u0435b-app"]}, "'wеb-app', which is refused as a project name: it mixes Latin and Cyrillic letters"),
        ({"projects": ["web-app", "cafe\u0301"]}, "which is refused as a project name: it is not in Unicode NFC form"),
        ({"projects": ["../web-app"]}, "which is refused as a project name: `..` components"),
        ({"projects": "web-app"}, "wrong shape"),
        ({"projects": [], "clarification": "  "}, "empty question"),
        ({"projects": [], "extra": 1}, "wrong shape"),
        (None, "wrong shape"),
    ],
)
def test_garbage_answers_are_errors(tree: Tree, answer: object, message: str) -> None:
    with pytest.raises(RoutingInvalid, match=message):
        parse_answer(answer, tree)
