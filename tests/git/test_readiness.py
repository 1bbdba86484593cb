"""`tunnels doctor`'s git notes on real repositories: what is edited in place, and what would keep a
task's worktree from being what the person expects."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.git.readiness import check_workspaces
from tests.git.repos import make_repo, run


async def test_each_workspace_is_said_how_it_stands_with_git(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "CLAUDE.md").write_text("# outside git\n")
    mono = make_repo(tmp_path / "mono", {"CLAUDE.md": "# mono\n", "api/CLAUDE.md": "# api\n", "web/CLAUDE.md": "# web\n"})
    (mono / "web" / "draft.txt").write_text("the person's work in progress\n")
    (mono / "new").mkdir()
    (mono / "new" / "CLAUDE.md").write_text("# not committed yet\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    run(empty, "init", "--quiet")
    (empty / "CLAUDE.md").write_text("# no commit\n")
    subs = make_repo(tmp_path / "subs", {"CLAUDE.md": "# subs\n", ".gitmodules": '[submodule "x"]\n\tpath = x\n\turl = ../x\n'})

    found = await check_workspaces(discover(tmp_path).workspaces(), worktrees=True)

    assert found.summary() == "5 workspace(s) in git (3 repositories), 1 edited in place"
    assert found.outside == ["plain"]
    text = "\n".join(found.notes)
    assert "plain: outside git: edited in place, no rollback (`git init` and a first commit there" in text
    assert f"mono/new: not committed in {mono}: a task's worktree would not have it" in text
    assert "mono/web: 1 uncommitted change(s): tasks start from the last commit and do not see them" in text
    assert "mono/api" not in text
    assert f"repository {subs}: has submodules: a task's worktree has them empty" in text
    assert f"repository {empty}: no commit yet: its tasks fail until a first commit is made" in text
    assert len(found.notes) == 5  # nothing about the workspaces that are fine


async def test_with_worktrees_off_every_workspace_is_edited_in_place(tmp_path: Path) -> None:
    make_repo(tmp_path / "web", {"CLAUDE.md": "# web\n"})
    found = await check_workspaces(discover(tmp_path).workspaces(), worktrees=False)
    assert found.notes == ["git.worktrees is off: every workspace is edited in place, with no rollback"]
