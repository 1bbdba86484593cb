"""The dependency graph discovery reads from the workspaces' manifests and CLAUDE.md front matter,
on a real folder tree: every kind of manifest gives the expected edges (one table), and hostile or
malformed manifests are skipped with a warning naming the file, never escaping the root or
stopping discovery."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claude_tunnels.actors.tree import Tree
from claude_tunnels.tunnels.discovery import discover
from tests.tree.test_discover import build

FIXTURE = {
    # -- Python: PEP 621, Poetry, uv, requirements files --------------------------------------
    "py/CLAUDE.md": "# py\nPython things.",
    "py/lib/CLAUDE.md": "---\ndepends_on: [py/app]\n---\n# lib\n",  # with app's use of it: a cycle
    "py/lib/pyproject.toml": '[project]\nname = "Py_Lib"\nversion = "1.0"\n',
    "py/app/CLAUDE.md": "# app",
    "py/app/pyproject.toml": (
        '[project]\nname = "app"\ndependencies = ["py-lib>=1", "tool @ file:../tool"]\n'
        '[project.optional-dependencies]\ncli = ["click"]\n'
    ),
    "py/tool/CLAUDE.md": "# tool",
    "py/poetry/CLAUDE.md": "# poetry",
    "py/poetry/pyproject.toml": (
        '[tool.poetry]\nname = "poetry-thing"\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'lib2 = { path = "../lib", develop = true }\n[tool.poetry.group.dev.dependencies]\nApp = "*"\n'
    ),
    "py/uvapp/CLAUDE.md": "# uvapp",
    "py/uvapp/pyproject.toml": (
        '[project]\nname = "uvapp"\ndependencies = ["poetry-thing"]\n'
        '[tool.uv.sources]\npoetry-thing = { workspace = true }\ntoolkit = { path = "../tool" }\n'
        '[tool.uv.workspace]\nmembers = ["../t*"]\n'
    ),
    "py/req/CLAUDE.md": "# req",
    "py/req/requirements.txt": "# pinned\n-e ../tool\nPy.Lib==1.0 ; python_version > '3'\n-r other.txt\nhttps://x.test/a.whl\n",
    "py/req/requirements-dev.txt": "file:../uvapp#egg=uvapp\n",
    # -- JavaScript: package.json names, file:/link:/workspace: and workspaces globs ----------
    "js/CLAUDE.md": "# js",
    "js/ui/CLAUDE.md": "# ui",
    "js/ui/package.json": json.dumps({
        "name": "@acme/ui", "dependencies": {"@acme/core": "workspace:*", "react": "^18"},
        "devDependencies": {"helper": "file:../helper"}, "peerDependencies": {"@acme/theme": "^2"},
        "optionalDependencies": {"fast": "link:../fast"},
    }),
    "js/core/CLAUDE.md": "# core",
    "js/core/package.json": json.dumps({"name": "@acme/core"}),
    "js/helper/CLAUDE.md": "# helper",
    "js/helper/package.json": json.dumps({"name": "helper-x"}),
    "js/theme/CLAUDE.md": "# theme",
    "js/theme/package.json": json.dumps({"name": "@acme/theme"}),
    "js/fast/CLAUDE.md": "# fast",
    "js/mono/CLAUDE.md": "# mono",
    "js/mono/package.json": json.dumps({"private": True, "workspaces": {"packages": ["../c*", "!../cache"]}}),
    # -- Go: module, require, replace => ../x --------------------------------------------------
    "go/CLAUDE.md": "# go",
    "go/api/CLAUDE.md": "# api",
    "go/api/go.mod": (
        "module example.com/api\n\ngo 1.22\n\nrequire (\n\texample.com/shared v1.0.0 // indirect\n"
        "\tgithub.com/other/thing v1.2.3\n)\n\nreplace example.com/tools v0.1.0 => ../tools\n"
    ),
    "go/shared/CLAUDE.md": "# shared",
    "go/shared/go.mod": "module example.com/shared\n",
    "go/tools/CLAUDE.md": "# tools",
    "go/tools/go.mod": 'module "example.com/tools"\n',
    # -- Rust: path dependencies, renamed packages, [workspace] members -------------------------
    "rs/CLAUDE.md": "# rs",
    "rs/app/CLAUDE.md": "# app",
    "rs/app/Cargo.toml": (
        '[package]\nname = "app"\n[dependencies]\nutil = { path = "../util" }\nserde = "1"\n'
        '[dev-dependencies]\ntk = { version = "1", package = "rs-testkit" }\n'
        "[target.'cfg(unix)'.dependencies]\nunixy = { path = \"../unixy\" }\n"
    ),
    "rs/util/CLAUDE.md": "# util",
    "rs/util/Cargo.toml": '[package]\nname = "util"\n',
    "rs/testkit/CLAUDE.md": "# testkit",
    "rs/testkit/Cargo.toml": '[package]\nname = "rs-testkit"\n',
    "rs/unixy/CLAUDE.md": "# unixy",
    "rs/unixy/Cargo.toml": '[package]\nname = "unixy"\n',
    "rs/ws/CLAUDE.md": "# ws",
    "rs/ws/Cargo.toml": '[workspace]\nmembers = ["../util", "../unix*"]\n[workspace.dependencies]\nserde = "1"\n',
    # -- anything else: depends_on in a CLAUDE.md front matter --------------------------------
    "infra/CLAUDE.md": "---\ntest: make check\ndepends_on:\n  - js/ui\n  - go\n---\n# infra\nDeploys everything.\n",
}

EXPECTED = [  # (source, target, why)
    ("py/app", "py/lib", "pyproject name"),
    ("py/app", "py/tool", "pyproject path dep"),
    ("py/lib", "py/app", "CLAUDE.md depends_on"),
    ("py/poetry", "py/lib", "pyproject path dep"),
    ("py/poetry", "py/app", "pyproject name"),
    ("py/uvapp", "py/poetry", "uv workspace source"),
    ("py/uvapp", "py/poetry", "pyproject name"),
    ("py/uvapp", "py/tool", "pyproject path dep"),
    ("py/uvapp", "py/tool", "uv workspace member"),
    ("py/req", "py/tool", "requirements path dep"),
    ("py/req", "py/lib", "requirements name"),
    ("py/req", "py/uvapp", "requirements path dep"),
    ("js/ui", "js/core", "package.json workspace:"),
    ("js/ui", "js/helper", "package.json path dep"),
    ("js/ui", "js/theme", "package.json name"),
    ("js/ui", "js/fast", "package.json path dep"),
    ("js/mono", "js/core", "package.json workspaces"),
    ("go/api", "go/shared", "go.mod require"),
    ("go/api", "go/tools", "go.mod replace"),
    ("rs/app", "rs/util", "Cargo.toml path dep"),
    ("rs/app", "rs/testkit", "Cargo.toml name"),
    ("rs/app", "rs/unixy", "Cargo.toml path dep"),
    ("rs/ws", "rs/util", "Cargo workspace member"),
    ("rs/ws", "rs/unixy", "Cargo workspace member"),
    ("infra", "js/ui", "CLAUDE.md depends_on"),
    ("infra", "go/api", "CLAUDE.md depends_on"),
    ("infra", "go/shared", "CLAUDE.md depends_on"),
    ("infra", "go/tools", "CLAUDE.md depends_on"),
]


@pytest.fixture(scope="module")
def fixture_tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return discover(build(tmp_path_factory.mktemp("manifests"), FIXTURE))


def found(tree: Tree) -> set[tuple[str, str, str]]:
    return {(edge.source, edge.target, why) for edge in tree.graph().edges for why in edge.why}


@pytest.mark.parametrize("source, target, why", EXPECTED, ids=[f"{w}: {s} -> {t}" for s, t, w in EXPECTED])
def test_each_kind_of_manifest_gives_its_edge(fixture_tree: Tree, source: str, target: str, why: str) -> None:
    assert (source, target, why) in found(fixture_tree)


def test_the_fixture_gives_exactly_the_table_and_reports_the_cycle(fixture_tree: Tree) -> None:
    graph = fixture_tree.graph()
    assert found(fixture_tree) == set(EXPECTED)
    assert graph.warnings == ()
    assert graph.cycles() == [["py/app", "py/lib"]]
    assert graph.uses("go/api") == ["go/shared", "go/tools"] and graph.used_by("js/core") == ["js/mono", "js/ui"]
    assert graph.reachable("infra") == {"js/ui", "js/core", "js/helper", "js/theme", "js/fast", "go/api", "go/shared", "go/tools"}


def test_neighbour_projects_are_followed_one_direction_at_a_time_with_their_distance(tmp_path: Path) -> None:
    spec = {
        "lib/CLAUDE.md": "# lib", "web/CLAUDE.md": "---\ndepends_on: [lib]\n---\n# web",
        "api/CLAUDE.md": "---\ndepends_on: [lib]\n---\n# api", "qa/CLAUDE.md": "---\ndepends_on: [web]\n---\n# qa",
        "ops/CLAUDE.md": "---\ndepends_on: [qa]\n---\n# ops", "alone/CLAUDE.md": "# alone",
    }
    graph = discover(build(tmp_path, spec)).graph()
    # web uses lib (1 hop); qa uses web (1), ops uses qa (2); api, another user of lib, is not pulled in.
    assert graph.project_distances(["web"]) == {"web": 0, "lib": 1, "qa": 1, "ops": 2}
    assert graph.project_distances(["lib"]) == {"lib": 0, "web": 1, "api": 1, "qa": 2, "ops": 3}


def test_malformed_manifests_are_skipped_with_a_warning_naming_the_file(tmp_path: Path) -> None:
    spec = {
        "p/CLAUDE.md": "# p",
        "p/a/CLAUDE.md": "# a", "p/a/pyproject.toml": "[project\nname = ",
        "p/a/requirements.txt": "-e ../b\n",  # the workspace's other manifests are still read
        "p/b/CLAUDE.md": "# b", "p/b/package.json": "[1, 2]",
        "p/c/CLAUDE.md": "# c", "p/c/package.json": "{\"name\": ",
        "p/d/CLAUDE.md": "# d", "p/d/go.mod": "module example.com/d\nrequire (\n\texample.com/x v1\n",
        "p/e/CLAUDE.md": "# e", "p/e/Cargo.toml": "[package\n",
        "p/f/CLAUDE.md": "---\ndepends_on: [p/a\n---\n# f",  # not YAML
        "p/g/CLAUDE.md": "---\ndepends_on: {p: a}\n---\n# g",  # not a list
        "p/h/CLAUDE.md": "---\ndepends_on: [nowhere, ../../etc, p/a]\n---\n# h",
        "p/i/CLAUDE.md": "# i", "p/i/package.json": "[" * 100_000 + "]" * 100_000,  # deeper than any parser recurses
        "p/j/CLAUDE.md": "# j", "p/j/go.mod": "module\n",
    }
    root = build(tmp_path, spec)
    (root / "p/k").mkdir()
    (root / "p/k/CLAUDE.md").write_text("# k")
    (root / "p/k/Cargo.toml").write_bytes(b'[package]\nname = "\xff\xfe"\n')
    (root / "p/l").mkdir()
    (root / "p/l/CLAUDE.md").write_text("# l")
    (root / "p/l/package.json").write_text(json.dumps({"name": "big", "description": "x" * 600_000}))
    tree = discover(root)
    graph = tree.graph()
    assert found(tree) == {("p/a", "p/b", "requirements path dep"), ("p/h", "p/a", "CLAUDE.md depends_on")}
    warnings = "\n".join(graph.warnings)
    for expected in [
        "p/a/pyproject.toml: not valid TOML", "p/b/package.json: not a JSON object", "p/c/package.json: not valid JSON",
        "p/d/go.mod: the `require (` block is never closed", "p/e/Cargo.toml: not valid TOML",
        "p/f/CLAUDE.md: the front matter is not valid YAML", "p/g/CLAUDE.md: `depends_on` in the front matter must be a list",
        "p/h/CLAUDE.md: depends_on names 'nowhere', which is no workspace or project",
        "p/h/CLAUDE.md: depends_on names '../../etc', which is no workspace or project",
        "p/i/package.json: not valid JSON", "p/j/go.mod: line 1: `module` without a module path",
        "p/k/Cargo.toml: not UTF-8 text", "p/l/package.json: larger than 512 kB",
    ]:
        assert expected in warnings
    assert len(graph.warnings) == 13


def test_hostile_paths_and_globs_find_nothing_outside_the_root_and_never_stop_discovery(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    build(outside, {"CLAUDE.md": "# outside", "pyproject.toml": '[project]\nname = "evil"\ndependencies = ["lib"]\n'})
    deep = "../" * 60
    spec = {
        "p/CLAUDE.md": "# p",
        "p/lib/CLAUDE.md": "# lib", "p/lib/pyproject.toml": '[project]\nname = "lib"\n',
        "p/a/CLAUDE.md": "# a",
        "p/a/requirements.txt": f"-e {deep}etc\n-e ../../../outside\n-e /etc\n-e ../lib\x00x\n-e ../{'x' * 5000}\nfile:{deep}\n",
        "p/a/package.json": json.dumps({
            "dependencies": {"x": f"file:{deep}", "y": "link:/", "z": "file:../../../outside"},
            "workspaces": ["../../../outside", "**/" * 20 + "*", "../**/../../*", deep + "*"],
        }),
        "p/a/go.mod": f"module example.com/a\nreplace example.com/x => {deep}usr\n",
        "p/a/Cargo.toml": f'[dependencies]\nx = {{ path = "{deep}" }}\n[workspace]\nmembers = ["{deep}*", "/*"]\n',
    }
    root = build(tmp_path / "tree", spec)
    os.symlink(outside / "pyproject.toml", root / "p/a/pyproject.toml")  # a manifest linking out of the tree: not read
    os.symlink(outside, root / "p/a/linked")
    (root / "p/a/requirements-dev.txt").write_text("-e ./linked\n")  # a path through a link out of the tree
    os.mkfifo(root / "p/lib/package.json")  # would block a plain read
    tree = discover(root)
    assert found(tree) == set()  # not even `lib` through the outside pyproject, nor ../lib with a NUL
    assert tree.graph().warnings == ()
    assert [ws.qualified for ws in tree.workspaces()] == ["p/a", "p/lib"]


def test_a_package_name_two_workspaces_declare_is_ambiguous_and_left_out(tmp_path: Path) -> None:
    spec = {
        "p/CLAUDE.md": "# p",
        "p/one/CLAUDE.md": "# one", "p/one/package.json": json.dumps({"name": "dup"}),
        "p/two/CLAUDE.md": "# two", "p/two/package.json": json.dumps({"name": "dup"}),
        "p/user/CLAUDE.md": "# user", "p/user/package.json": json.dumps({"dependencies": {"dup": "^1", "two": "file:../two"}}),
    }
    tree = discover(build(tmp_path, spec))
    assert found(tree) == {("p/user", "p/two", "package.json path dep")}  # by path it is not ambiguous
    assert tree.graph().warnings == (
        "the node package 'dup' is declared by p/one, p/two; references to it by name are left out of the graph",
    )


def test_discovery_without_manifests_reads_none(fixture_tree: Tree) -> None:
    quick = discover(fixture_tree.root, manifests=False)
    assert quick.edges == () and {e.why for e in quick.graph().edges} == {("CLAUDE.md depends_on",)}
