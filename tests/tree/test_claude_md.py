"""Reading a CLAUDE.md that is announced or put in a prompt: bounded, regular files only, no link out."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from claude_tunnels.actors.tree.claude_md import TRUNCATED, read_claude_md


def test_a_plain_file_is_read_and_a_long_one_cut(tmp_path: Path) -> None:
    (tmp_path / "CLAUDE.md").write_text("# api\nThe shop's API.\n", encoding="utf-8")
    assert read_claude_md(tmp_path) == "# api\nThe shop's API.\n"
    (tmp_path / "CLAUDE.md").write_bytes(b"x" * 50_000)
    text = read_claude_md(tmp_path, limit=100)
    assert text == "x" * 100 + TRUNCATED


def test_a_link_inside_the_folder_is_followed_and_one_out_of_it_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "guide.md").write_text("inside\n")
    (folder / "CLAUDE.md").symlink_to("docs/guide.md")
    assert read_claude_md(folder) == "inside\n"
    (tmp_path / "secret").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (folder / "CLAUDE.md").unlink()
    (folder / "CLAUDE.md").symlink_to(tmp_path / "secret")
    assert read_claude_md(folder) is None
    (folder / "CLAUDE.md").unlink()
    (folder / "CLAUDE.md").symlink_to("../secret")
    assert read_claude_md(folder) is None


def test_a_fifo_or_a_missing_file_gives_nothing_without_blocking(tmp_path: Path) -> None:
    assert read_claude_md(tmp_path) is None
    os.mkfifo(tmp_path / "CLAUDE.md")
    result: list[str | None] = []
    reader = threading.Thread(target=lambda: result.append(read_claude_md(tmp_path)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive() and result == [None]
