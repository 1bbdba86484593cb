"""Deterministic routing: named projects and workspaces, a single-project tree; the router's answer checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.actors.routing import RoutingInvalid, explicit_route, parse_answer
from claude_tunnels.actors.tree import Tree
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.discovery import discover


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return discover(lay_out(tmp_path / "tree"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("bump shared-lib please", (["shared-lib"], [])),
        ("fix web-app/frontend and api-service", (["api-service", "web-app"], ["web-app/frontend"])),  # tree order
        ("Web-App is broken", (["web-app"], [])),
        ("upgrade the shared library", None),
        ("the shared-library-v2 plan", None),  # a longer word is not the name
        ("see docs/web-app-notes", None),
    ],
)
def test_explicit_routes(tree: Tree, text: str, expected: tuple | None) -> None:
    assert explicit_route(text, tree) == expected


def test_a_single_project_tree_needs_no_router(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "CLAUDE.md").write_text("# only\n")
    assert explicit_route("do anything", discover(tmp_path)) == (["only"], [])


@pytest.mark.parametrize(
    "answer, message",
    [
        ({"projects": ["ghost"]}, "unknown projects: ghost"),
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
