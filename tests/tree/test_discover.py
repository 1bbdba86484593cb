"""Discovering projects and workspaces on a real temporary folder tree."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from claude_tunnels.actors.tree import (
    DuplicateWorkspace,
    TreeError,
    UnknownProject,
    UnknownWorkspace,
    UnsafeName,
    remote_workspace,
)
from claude_tunnels.actors.tree.claude_md import CLAUDE_MD_BYTES, TRUNCATED
from claude_tunnels.tunnels.discovery import discover

# A sample root: relative path -> file content ("/" at the end: an empty folder).
SAMPLE = {
    "alpha/CLAUDE.md": "# alpha project",
    "alpha/apps/web/CLAUDE.md": "# web",
    "alpha/apps/web/nested/CLAUDE.md": "a workspace is a leaf: never found",
    "alpha/apps/api/.claude/": "",
    "alpha/libs/core/deep/er/ws/CLAUDE.md": "# five levels down",
    "alpha/docs/guide.md": "no CLAUDE.md here",
    "alpha/node_modules/pkg/CLAUDE.md": "ignored",
    "alpha/__pycache__/CLAUDE.md": "ignored",
    "alpha/.hidden/CLAUDE.md": "ignored",
    "alpha/.tasks/2026-01-01/CLAUDE.md": "ignored",
    "alpha/.git/CLAUDE.md": "ignored",
    "alpha/env/pyvenv.cfg": "home = /usr/bin",
    "alpha/env/lib/CLAUDE.md": "ignored: inside a virtualenv",
    "beta/CLAUDE.md": "# beta has no workspaces",
    "beta/src/main.py": "",
    "beta/d1/d2/d3/d4/d5/d6/d7/CLAUDE.md": "beyond the depth bound",
    "notes/CLAUDE.md.txt": "not a project",
    "notes/inner/CLAUDE.md": "not a project: not directly under the root",
    ".tunnels/CLAUDE.md": "hidden",
    "ARCHIVE/CLAUDE.md": "the archive is excluded",
    "state/CLAUDE.md": "the state folder is excluded",
    "state/ws/CLAUDE.md": "the state folder is excluded",
}
EXPECTED = ["alpha/apps/api", "alpha/apps/web", "alpha/libs/core/deep/er/ws", "beta"]


def build(base: Path, spec: dict[str, str]) -> Path:
    for relative, content in spec.items():
        path = base / relative
        if relative.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    return base


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build(tmp_path / "root", SAMPLE)


def names(root: Path, **kwargs: object) -> list[str]:
    tree = discover(root, exclude=[root / "ARCHIVE", Path("state")], **kwargs)  # type: ignore[arg-type]
    return [workspace.qualified for workspace in tree.workspaces()]


def test_sample_tree(root: Path) -> None:
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    assert [project.name for project in tree.projects] == ["alpha", "beta"]
    assert [ws.qualified for ws in tree.workspaces()] == EXPECTED
    web = tree.workspace("alpha/apps/web")
    assert (web.project, web.name, web.path, web.claude_md) == (
        "alpha",
        "apps/web",
        root.resolve() / "alpha/apps/web",
        "# web",
    )
    assert tree.workspace("alpha/apps/api").claude_md == ""
    assert tree.project("alpha").claude_md == "# alpha project"
    assert tree.skipped == ()


def test_project_without_workspaces_is_its_own_workspace(root: Path) -> None:
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    beta = tree.workspace("beta")
    assert (beta.project, beta.name, beta.qualified) == ("beta", "beta", "beta")
    assert beta.path == root.resolve() / "beta" and beta.is_project_root
    assert beta.claude_md == "# beta has no workspaces"
    with pytest.raises(UnknownWorkspace):
        tree.workspace("alpha")  # alpha has workspaces: it is not one itself


def test_state_and_archive_are_excluded_only_when_passed(root: Path) -> None:
    assert names(root) == EXPECTED
    found = [ws.qualified for ws in discover(root).workspaces()]
    assert "ARCHIVE" in found and "state/ws" in found


@pytest.mark.parametrize(("max_depth", "deep_found"), [(5, True), (4, False)])
def test_depth_bound(root: Path, max_depth: int, deep_found: bool) -> None:
    assert ("alpha/libs/core/deep/er/ws" in names(root, max_depth=max_depth)) is deep_found


def test_count_bound_is_reported(root: Path) -> None:
    tree = discover(root, max_dirs=3)
    assert any("walk stopped after 3 folders" in skip.reason for skip in tree.skipped)


# (links to make: link path -> target, relative to the tmp folder; found; skip reason or None)
SYMLINKS = [
    ({"root/alpha/out": "outside"}, EXPECTED, "symlink leaves the root"),
    ({"root/out": "outside"}, EXPECTED, "symlink leaves the root"),
    ({"root/alpha/loop": "root/alpha"}, EXPECTED, "already discovered"),
    ({"root/alpha/up": "root"}, EXPECTED, "already discovered"),
    ({"root/alpha/x": "root/alpha/y", "root/alpha/y": "root/alpha/x"}, EXPECTED, "symlink loop"),
    ({"root/alpha/alias": "root/alpha/apps/web"}, EXPECTED, "already discovered"),
    ({"root/alpha/into": "root/alpha/apps/web/nested"}, EXPECTED, "already discovered"),
    ({"root/alpha/arch": "root/ARCHIVE"}, EXPECTED, "hidden, ignored or excluded"),
    ({"root/alpha/dot": "root/alpha/.hidden"}, EXPECTED, "hidden, ignored or excluded"),
    ({"root/alpha/venvlink": "root/alpha/env/lib"}, EXPECTED, "hidden, ignored or excluded"),
    ({"root/alpha/gone": "root/nowhere"}, EXPECTED, "broken symlink"),
    ({"root/alpha/file": "root/alpha/CLAUDE.md"}, EXPECTED, None),
    ({"root/alpha/shared": "root/notes/inner"}, sorted([*EXPECTED, "alpha/shared"]), None),
    ({"root/gamma": "root/notes/inner"}, [*EXPECTED, "gamma"], None),
    ({"root/zeta": "root/beta"}, EXPECTED, "already discovered"),
    ({"root/zeta": "root/beta/d1/d2/d3/d4/d5/d6/d7"}, EXPECTED, "symlink into another project"),
    ({"root/alpha/b": "root/beta/d1/d2/d3/d4/d5/d6/d7"}, EXPECTED, "another project"),
]


@pytest.mark.parametrize(("links", "found", "reason"), SYMLINKS)
def test_symlinks(
    tmp_path: Path, root: Path, links: dict[str, str], found: list[str], reason: str | None
) -> None:
    build(tmp_path / "outside", {"CLAUDE.md": "# outside the root", "ws/CLAUDE.md": "x"})
    for link, target in links.items():
        os.symlink(tmp_path / target, tmp_path / link)
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    assert [ws.qualified for ws in tree.workspaces()] == found
    reasons = [skip.reason for skip in tree.skipped]
    if reason is None:
        assert reasons == []
    else:
        assert len(reasons) == len(links) and all(reason in each for each in reasons)
    for workspace in tree.workspaces():
        assert workspace.path is not None and root.resolve() in workspace.path.parents


def test_symlinked_workspace_uses_the_real_path(tmp_path: Path, root: Path) -> None:
    os.symlink(root / "notes/inner", root / "alpha/shared")
    shared = discover(root, exclude=[root / "ARCHIVE", root / "state"]).workspace("alpha/shared")
    assert shared.path == root.resolve() / "notes/inner"


@pytest.mark.parametrize(
    ("target", "read"),
    [("outside/secret.txt", False), ("root/ARCHIVE/slack.txt", False), ("root/notes/x.md", True)],
)
def test_claude_md_symlink(tmp_path: Path, root: Path, target: str, read: bool) -> None:
    build(tmp_path, {"outside/secret.txt": "SECRET", "root/ARCHIVE/slack.txt": "SECRET"})
    build(tmp_path, {"root/notes/x.md": "# shared", "root/eps/": ""})
    os.symlink(tmp_path / target, root / "eps/CLAUDE.md")
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    assert ("eps" in [project.name for project in tree.projects]) is read
    assert all("SECRET" not in ws.claude_md for ws in tree.workspaces())


@pytest.mark.parametrize("bad", ["bad\x01name", "back\\slash", "rtl\u202eexe"])
def test_unsafe_folder_names_are_skipped(root: Path, bad: str) -> None:
    build(root, {f"alpha/{bad}/CLAUDE.md": "x", f"{bad}/CLAUDE.md": "x"})
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    assert [ws.qualified for ws in tree.workspaces()] == EXPECTED
    assert [skip.path for skip in tree.skipped] == [repr(bad), f"alpha/{bad!r}"]
    assert all(skip.reason.startswith("unsafe folder name: ") for skip in tree.skipped)


@pytest.mark.parametrize(
    ("lookalike", "reason"),
    [
        ("w\u0435b-app", "it mixes Latin and Cyrillic letters (U+0435 is CYRILLIC SMALL LETTER IE)"),
        ("g\u03bfogle", "it mixes Latin and Greek letters (U+03BF is GREEK SMALL LETTER OMICRON)"),
        ("cafe\u0301", "it is not in Unicode NFC form (U+0065 U+0301 where NFC has U+00E9)"),
    ],
)
def test_lookalike_folders_are_left_out_with_the_reason(root: Path, lookalike: str, reason: str) -> None:
    build(root, {f"{lookalike}/CLAUDE.md": "# passes for a real project", f"alpha/{lookalike}/CLAUDE.md": "x"})
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    assert [ws.qualified for ws in tree.workspaces()] == EXPECTED
    assert [skip.path for skip in tree.skipped] == [repr(lookalike), f"alpha/{lookalike!r}"]
    assert all(skip.reason.startswith(f"unsafe folder name: {reason}") for skip in tree.skipped)
    assert tree.left_out()[0].startswith(f"{lookalike!r}: unsafe folder name: {reason}")


def test_a_symlink_into_a_lookalike_folder_is_not_followed(root: Path) -> None:
    build(root, {"w\u0435b/inner/CLAUDE.md": "x"})
    os.symlink(root / "w\u0435b" / "inner", root / "alpha" / "inner")
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    assert [ws.qualified for ws in tree.workspaces()] == EXPECTED
    assert "symlink into a hidden, ignored or excluded folder" in [skip.reason for skip in tree.skipped]


def test_unicode_names(tmp_path: Path) -> None:
    root = build(tmp_path, {"café/CLAUDE.md": "x", "café/приложение/CLAUDE.md": "y"})
    tree = discover(root)
    assert [ws.qualified for ws in tree.workspaces()] == ["café/приложение"]
    assert tree.workspace("café/приложение").claude_md == "y"
    # A decomposed spelling reads the same but is another name: refused, and told its NFC form.
    with pytest.raises(UnsafeName, match="its NFC form is 'café'"):
        tree.workspace(unicodedata.normalize("NFD", "café/приложение"))
    with pytest.raises(UnsafeName, match="not in Unicode NFC form"):
        tree.project(unicodedata.normalize("NFD", "café"))


def test_claude_md_is_bounded(tmp_path: Path) -> None:
    root = build(tmp_path, {"big/CLAUDE.md": "é" * CLAUDE_MD_BYTES})
    text = discover(root).workspace("big").claude_md
    assert text.endswith(TRUNCATED)
    assert text.removesuffix(TRUNCATED) == "é" * (CLAUDE_MD_BYTES // 2)


@pytest.mark.parametrize(
    ("name", "error", "part"),
    [
        ("alpha/apps/wbe", UnknownWorkspace, "did you mean 'alpha/apps/web'?"),
        ("gamma", UnknownWorkspace, "known: alpha/apps/api"),
        ("../etc/passwd", UnsafeName, "`..` components"),
        ("/etc", UnsafeName, "absolute"),
        ("alpha/.git", UnsafeName, "hidden"),
    ],
)
def test_lookup_errors(root: Path, name: str, error: type[Exception], part: str) -> None:
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    with pytest.raises(error) as caught:
        tree.workspace(name)
    assert isinstance(caught.value, TreeError)
    assert part in str(caught.value)


def test_unknown_project(root: Path) -> None:
    with pytest.raises(UnknownProject, match="did you mean 'alpha'"):
        discover(root).project("alpah")


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(TreeError):
        discover(tmp_path / "missing")


def test_remote_workspaces(root: Path) -> None:
    tree = discover(root, exclude=[root / "ARCHIVE", root / "state"])
    grown = tree.with_remote([remote_workspace("alpha", "gpu"), remote_workspace("pod", "api")])
    gpu = grown.workspace("alpha/gpu")
    assert gpu.remote and gpu.path is None
    assert grown.project("pod").path is None
    assert [ws.qualified for ws in grown.workspaces()] == [
        "alpha/apps/api",
        "alpha/apps/web",
        "alpha/gpu",
        "alpha/libs/core/deep/er/ws",
        "beta",
        "pod/api",
    ]
    assert tree.workspaces() == tuple(ws for ws in grown.workspaces() if not ws.remote)
    with pytest.raises(DuplicateWorkspace):
        tree.with_remote([remote_workspace("alpha", "apps/web")])
    with pytest.raises(UnsafeName):
        remote_workspace("alpha", "../x")


@pytest.mark.parametrize(
    ("project", "name", "reason"),
    [
        ("alpha", "apps/w\u0435b", "mixes Latin and Cyrillic letters"),
        ("\u0430lpha", "gpu", "mixes Cyrillic and Latin letters"),
        ("alpha", "gpu\u0301", "not in Unicode NFC form"),
    ],
)
def test_a_remote_lookalike_workspace_is_refused(project: str, name: str, reason: str) -> None:
    with pytest.raises(UnsafeName, match=reason):
        remote_workspace(project, name)
