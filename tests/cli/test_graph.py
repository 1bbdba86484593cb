"""`tunnels graph` run as a real command on a real tree: text, Mermaid, DOT, a project filter, and
the warnings on stderr."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from claude_tunnels.tunnels.demo.sample_tree import lay_out

ROOT = Path(__file__).resolve().parents[2]


async def tunnels(root: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = lay_out(tmp_path / "tree")
    (root / "shared-lib/core/pyproject.toml").write_text('[project]\nname = "shared-lib"\n')
    (root / "web-app/frontend/package.json").write_text('{"name": "frontend", "dependencies": {"b": "file:../backend"}}')
    (root / "qa").mkdir()
    (root / "qa/CLAUDE.md").write_text('---\ndepends_on: [web-app, "nowhere"]\n---\n# qa\nEnd-to-end tests.\n')
    (root / "qa/package.json").write_text("{not json")
    return root


async def test_text_mermaid_and_dot(root: Path) -> None:
    code, out, err = await tunnels(root, "graph")
    assert code == 0, err
    assert out.splitlines() == [
        "api-service -> shared-lib/core (requirements name)",
        "qa -> web-app/backend (CLAUDE.md depends_on)",
        "qa -> web-app/frontend (CLAUDE.md depends_on)",
        "web-app/backend -> shared-lib/core (requirements name)",
        "web-app/frontend -> web-app/backend (package.json path dep)",
        "without dependencies: shared-lib/docs",
        "",
        "6 workspaces, 5 edges; no cycles.",
    ]
    assert err.splitlines() == [
        "warning: qa/package.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); skipped",
        "warning: qa/CLAUDE.md: depends_on names 'nowhere', which is no workspace or project of the tree; "
        "write `project/workspace` or a project name",
    ]

    code, out, _ = await tunnels(root, "graph", "--format", "mermaid")
    assert code == 0 and out.startswith("flowchart LR\n")
    assert '    w3["shared-lib/docs"]' in out and '  subgraph p3["web-app"]' in out
    assert '  w5 -->|"package.json path dep"| w4' in out

    code, out, _ = await tunnels(root, "graph", "--format", "dot")
    assert code == 0 and out.startswith("digraph dependencies {\n") and out.rstrip().endswith("}")
    assert '  "qa" -> "web-app/backend" [label="CLAUDE.md depends_on"];' in out
    assert '    label="shared-lib";' in out


async def test_a_project_filter_a_cycle_and_an_unknown_project(root: Path) -> None:
    (root / "shared-lib/core/CLAUDE.md").write_text("---\ndepends_on: [api-service]\n---\n# core\n")
    code, out, _ = await tunnels(root, "graph", "--project", "api-service")
    assert code == 0
    assert out.splitlines() == [
        "api-service -> shared-lib/core (requirements name)",
        "shared-lib/core -> api-service (CLAUDE.md depends_on)",
        "",
        "2 workspaces, 2 edges; 1 cycle:",
        "  cycle: api-service <-> shared-lib/core",
    ]
    code, out, err = await tunnels(root, "graph", "--project", "web-ap")
    assert code == 2 and out == ""
    assert "tunnels: unknown project 'web-ap'; did you mean 'web-app'?" in err
