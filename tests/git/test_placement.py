"""Where a local task runs in git (`GitTasks.place`): a worktree and the agent's own git directory,
or a clear failure that leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from msgspec.structs import replace

from claude_tunnels.actors.ports import TaskOrder
from claude_tunnels.config.loader import load_settings
from claude_tunnels.projections import RequestsView
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.git.tasks import GitTasks, PreparationFailed
from tests.factories import Events
from tests.git.repos import make_repo, run

RID = "01JPLACE000000000000000000"


def order(workspace: str) -> TaskOrder:
    dispatched = replace(Events().dispatched("terminal:alice", RID, workspace), task_id=f"{RID}-1")
    return TaskOrder(dispatched=dispatched, prompt="do it", instructions="")


async def test_a_task_gets_a_worktree_and_a_git_directory_of_its_own(tmp_path: Path) -> None:
    make_repo(tmp_path / "mono", {"CLAUDE.md": "# mono\n", "api/CLAUDE.md": "# api\n"})
    (tmp_path / "orchestrator.yaml").write_text("{}\n")
    places = GitTasks(load_settings(tmp_path / "orchestrator.yaml"), RequestsView())

    placement = await places.place(order("mono/api"), discover(tmp_path).workspace("mono/api"))

    assert placement.worktree is not None and placement.agent_git is not None
    assert placement.cwd == placement.worktree.path / "api" and placement.agent_git.work_tree == placement.worktree.path
    assert placement.agent_git.own_dir.is_dir() and placement.agent_git.shared_dir == (tmp_path / "mono" / ".git").resolve()
    await places.abandon(placement, order("mono/api"), "cancelled")
    assert not placement.worktree.path.exists() and not placement.agent_git.own_dir.exists()


async def test_a_workspace_not_committed_in_its_repository_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mono", {"CLAUDE.md": "# mono\n", "api/CLAUDE.md": "# api\n"})
    (repo / "new").mkdir()
    (repo / "new" / "CLAUDE.md").write_text("# not committed yet\n")
    (tmp_path / "orchestrator.yaml").write_text("{}\n")
    places = GitTasks(load_settings(tmp_path / "orchestrator.yaml"), RequestsView())

    with pytest.raises(PreparationFailed, match=r"mono/new is not committed in its repository mono, so a worktree does not have it: commit it"):
        await places.place(order("mono/new"), discover(tmp_path).workspace("mono/new"))

    assert run(repo, "branch", "--format=%(refname:short)").split() == ["main"]
    assert run(repo, "worktree", "list").count("\n") == 1
    assert not list((tmp_path / ".tunnels" / "worktrees").glob("*/*"))
