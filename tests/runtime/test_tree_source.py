"""The tree the running orchestrator reads: what discovery leaves out is warned about once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.demo.sample_tree import lay_out
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
