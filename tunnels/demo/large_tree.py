"""A generated tree of many workspaces, for the prompt-budget test and `bench/planning_inputs.py`.

`projects` projects of `per_project` workspaces each. Every workspace has an ordinary `CLAUDE.md`
of about 1.5 kB and one manifest (Python, JavaScript, Go and Rust in turn) declaring its package
name and what it uses: the previous workspace of its project, and the first workspace of the
previous project (so projects form a chain of neighbours in the dependency graph).
"""

from __future__ import annotations

import json
from pathlib import Path

_PROSE = (
    "It follows the team's conventions: small modules with one job each, types everywhere, and tests "
    "beside the code they check. Run the tests before you finish and keep the public surface short. "
)


def claude_md(project: str, workspace: str) -> str:
    """An ordinary CLAUDE.md of about 1.5 kB: a heading, a paragraph of prose, then sections."""
    sections = "".join(f"\n## {title}\n\n{_PROSE * 2}" for title in ("Layout", "Testing", "Conventions"))
    return (
        f"# {workspace}\n\nThe {workspace} component of {project}: it serves the {project} team's "
        f"{workspace} needs and is used by the components after it.\n{sections}"
    )[:1500]


def _manifest(kind: int, name: str, uses: list[tuple[str, str]]) -> tuple[str, str]:
    """(file name, text) of one manifest declaring `name` and using `uses` (name, relative path)."""
    if kind == 0:
        deps = ", ".join(f'"{dep} @ file:{path}"' for dep, path in uses)
        return "pyproject.toml", f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = [{deps}]\n'
    if kind == 1:
        return "package.json", json.dumps({"name": name, "dependencies": {dep: f"file:{path}" for dep, path in uses}}, indent=2)
    if kind == 2:
        requires = "".join(f"\texample.com/{dep} v1.0.0\n" for dep, _ in uses)
        replaces = "".join(f"replace example.com/{dep} => {path}\n" for dep, path in uses)
        return "go.mod", f"module example.com/{name}\n\ngo 1.22\n\nrequire (\n{requires})\n\n{replaces}"
    deps = "".join(f'{dep} = {{ path = "{path}" }}\n' for dep, path in uses)
    return "Cargo.toml", f'[package]\nname = "{name}"\nversion = "1.0.0"\n\n[dependencies]\n{deps}'


def lay_out_large(root: Path, projects: int, per_project: int) -> Path:
    """Write the tree under `root` (created if missing); return `root`."""
    for p in range(projects):
        project = f"project-{p:03}"
        base = root / project
        base.mkdir(parents=True, exist_ok=True)
        (base / "CLAUDE.md").write_text(claude_md("the company", project), encoding="utf-8")
        for w in range(per_project):
            folder = base / f"ws-{w:02}"
            folder.mkdir(exist_ok=True)
            (folder / "CLAUDE.md").write_text(claude_md(project, f"ws-{w:02}"), encoding="utf-8")
            kind = (p * per_project + w) % 4
            uses = [(f"p{p:03}-w{w - 1:02}", f"../ws-{w - 1:02}")] if w else []
            if p and w == 0:
                uses.append((f"p{p - 1:03}-w00", f"../../project-{p - 1:03}/ws-00"))
            # By path, so that the chain holds across ecosystems (a name matches only its own).
            name, text = _manifest(kind, f"p{p:03}-w{w:02}", uses)
            (folder / name).write_text(text, encoding="utf-8")
    return root
