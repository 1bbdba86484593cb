"""The import graph: the flow and the parts it is made of never import the composition root.

`tunnels/` wires everything and holds the adapters (NATS, Claude Code, the tree on disk); it may
import anything. Nothing in `actors/`, `events/`, `projections/`, `channels/`, `remote_agent/`
or `config/` may import `tunnels` — checked on every import statement, at any depth. And no
production code imports `tests` or `bench` (where the manual clock and sequential ids live).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "claude_tunnels"
"""Installed, every folder is a subpackage of this one name (setup.py)."""
INWARD = ("actors", "events", "projections", "channels", "remote_agent", "config")
LOWER = {"events": ("actors", "projections", "channels", "remote_agent"), "projections": ("actors", "channels", "remote_agent")}
"""What the lowest layers may not import either: events know no one; projections fold events only."""


def imported_modules(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative imports resolved to absolute names
    (`package`: the file's package, by default from its place under the root)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
    return found


def _violations(folder: str, banned: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, module in imported_modules(path)
        if module.removeprefix(f"{NAMESPACE}.").split(".")[0] in banned
    ]


@pytest.mark.parametrize("folder", INWARD)
def test_nothing_inward_imports_the_composition_root(folder: str) -> None:
    assert _violations(folder, ("tunnels",)) == []


@pytest.mark.parametrize("folder", sorted(LOWER))
def test_the_lowest_layers_import_nothing_above_them(folder: str) -> None:
    assert _violations(folder, LOWER[folder]) == []


@pytest.mark.parametrize("folder", [*INWARD, "tunnels"])
def test_no_production_code_imports_the_tests_or_the_benchmarks(folder: str) -> None:
    # The test doubles (a manual clock, sequential ids) live in tests/: production gets real time and ids.
    assert _violations(folder, ("tests", "bench")) == []


def test_the_check_sees_an_import_of_the_root(tmp_path: Path) -> None:
    # The walker itself: relative and nested imports are resolved, so a violation cannot hide.
    sample = tmp_path / "probe.py"
    sample.write_text("def f():\n    from claude_tunnels.tunnels.bus import EventStore\n    from ..tunnels import cli\n")
    found = [module for _, module in imported_modules(sample, "claude_tunnels.actors.sub")]
    assert found == ["claude_tunnels.tunnels.bus", "claude_tunnels.actors.tunnels"]
