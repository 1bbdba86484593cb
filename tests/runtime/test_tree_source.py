"""The tree the running orchestrator reads: what discovery leaves out is warned about once; the
folders are walked once and again only when they changed, never on the event loop."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.actors.tree import Tree
from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels import tree_source
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.tree_source import DiskTree


def test_a_lookalike_project_is_left_out_and_warned_about_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = lay_out(tmp_path / "tree")
    (root / "w\u0435b-app").mkdir()  # a Cyrillic `е`: reads as web-app
    (root / "w\u0435b-app" / "CLAUDE.md").write_text("# web-app\nThe real one, honest.\n")
    source = DiskTree(load_settings(root=root))
    with caplog.at_level(logging.WARNING, logger="claude_tunnels.tunnels.tree_source"):
        trees = [source.tree(), source.tree()]
    for tree in trees:
        assert [project.name for project in tree.projects] == ["api-service", "shared-lib", "web-app"]
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith("left out of the project tree: 'wеb-app': unsafe folder name: it mixes Latin and Cyrillic")


# -- discovered once, walked again when the folders change --------------------------------------


def settled(root: Path) -> Path:
    """Date every folder and file under `root` a minute back: older than any walk made now, so a
    fingerprint taken of them is not provisional (a change made during a walk is not ruled out)."""
    past = time.time() - 60
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past), follow_symlinks=False)
    return root


def names(tree: Tree) -> list[str]:
    return [workspace.qualified for workspace in tree.workspaces()]


def test_the_folders_are_walked_once_while_nothing_changes(tmp_path: Path) -> None:
    source = DiskTree(load_settings(root=settled(lay_out(tmp_path / "tree"))))
    first = source.fresh()
    assert [source.fresh(), source.tree(), source.fresh(), source.tree()] == [first] * 4
    assert source.fresh() is first and source.tree() is first  # one object: its name matcher is built once
    assert source.walks == 1


def add_workspace(root: Path) -> None:
    (root / "web-app" / "mobile").mkdir()
    (root / "web-app" / "mobile" / "CLAUDE.md").write_text("# mobile\nThe phone app.\n")


def add_project(root: Path) -> None:
    (root / "infra").mkdir()
    (root / "infra" / "CLAUDE.md").write_text("# infra\nDeploys web-app.\n")


def edit_claude_md(root: Path) -> None:
    path = root / "shared-lib" / "core" / "CLAUDE.md"
    path.write_text(path.read_text().replace("library code", "library CODE"))  # same size, in place


def edit_manifest(root: Path) -> None:
    path = root / "web-app" / "frontend" / "package.json"
    path.write_text('{"name": "frontend", "dependencies": {"core": "file:../../shared-lib/core"}}')


def remove_workspace(root: Path) -> None:
    shutil.rmtree(root / "shared-lib" / "docs")


def what(tree: Tree) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    return names(tree), [w.description for w in tree.workspaces()], [(e.source, e.target) for e in tree.edges]


@pytest.mark.parametrize("change", [add_workspace, add_project, edit_claude_md, edit_manifest, remove_workspace])
def test_a_change_on_disk_is_seen_by_the_next_fresh_read(tmp_path: Path, change: Callable[[Path], None]) -> None:
    root = settled(lay_out(tmp_path / "tree"))
    source = DiskTree(load_settings(root=root))
    before = source.fresh()
    change(root)
    assert source.tree() is before  # the kept tree: no disk access
    after = source.fresh()
    assert what(after) != what(before)
    assert what(after) == what(discover(root, exclude=[root / ".tunnels"]))  # as a walk of its own finds it
    assert source.walks == 2


def test_a_folder_becoming_a_workspace_is_seen(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    (root / "web-app" / "docs" / "notes").mkdir(parents=True)  # no CLAUDE.md, no .claude/: not a workspace
    source = DiskTree(load_settings(root=settled(root)))
    assert "web-app/docs" not in names(source.fresh())
    (root / "web-app" / "docs" / ".claude").mkdir()  # only this folder's own time changes
    assert "web-app/docs" in names(source.fresh())
    # At the depth limit a folder is only checked for a CLAUDE.md, not listed: that check counts too.
    deep = root / "web-app" / "a" / "b" / "c" / "d" / "e" / "f"
    deep.mkdir(parents=True)
    settled(root)
    source.invalidate()
    assert "web-app/a/b/c/d/e/f" not in names(source.fresh())
    walks = source.walks
    (deep / "CLAUDE.md").write_text("# f\nDeep down.\n")  # only f's own time changes
    assert "web-app/a/b/c/d/e/f" in names(source.fresh())
    assert source.walks == walks + 1


def test_the_state_folders_changing_walks_nothing_again(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    loaded = load_settings(root=root)
    folders = (loaded.state_dir, loaded.archive_dir, loaded.task_log_dir)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)  # made at start-up, before the first walk
    source = DiskTree(loaded)
    settled(root)
    source.fresh()
    for folder in folders:  # the event log, checkpoints, task logs written all the time
        (folder / "written").mkdir()
        (folder / "written" / "file").write_text("x")
    source.fresh()
    assert source.walks == 1


def test_invalidate_walks_again_and_a_recent_change_is_not_trusted(tmp_path: Path) -> None:
    root = settled(lay_out(tmp_path / "tree"))
    source = DiskTree(load_settings(root=root))
    source.fresh()
    source.invalidate()
    source.fresh()
    assert source.walks == 2
    # A folder written just now may have changed while the walk read it: its stamp is not trusted
    # until a walk made after it.
    add_project(root)
    source.fresh()
    source.fresh()
    assert source.walks == 4
    settled(root)
    source.fresh()
    source.fresh()
    assert source.walks == 5


async def test_current_walks_in_a_worker_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walked_on: list[int] = []
    real = tree_source.discover

    def discover_here(*args: Any, **kwargs: Any) -> Tree:
        walked_on.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(tree_source, "discover", discover_here)
    source = DiskTree(load_settings(root=lay_out(tmp_path / "tree")))
    tree = await source.current()
    assert names(tree) == names(source.tree())
    assert walked_on and threading.get_ident() not in walked_on
