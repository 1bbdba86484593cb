"""The agent's own git directory on real repositories: its commits stay there, the repository's
refs and objects are untouched, the other workspaces' files it cannot see are not "deleted"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from claude_tunnels.tunnels.git import agent_gitdir, worktrees
from claude_tunnels.tunnels.git.repository import head_commit
from tests.git.repos import make_repo, run


def as_agent(task_git: agent_gitdir.TaskGit, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git ARGS` as the agent runs it: only the variables the session gets point it anywhere."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    return subprocess.run(["git", *args], cwd=cwd, env={**env, **task_git.environment()}, capture_output=True, text=True, check=False)


async def test_the_agents_commits_stay_in_its_own_git_directory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app/main.py": "print(1)\n", "lib/v.txt": "1\n"})
    run(repo, "branch", "other")
    tree = await worktrees.create(repo, path=tmp_path / "wt" / "r1-1", branch="tunnels/r1/app", base=await head_commit(repo))
    task_git = await agent_gitdir.prepare(tree, Path("app"))
    refs = run(repo, "for-each-ref")
    (tree.path / "app" / "main.py").write_text("print(2)\n")

    committed = as_agent(task_git, tree.path / "app", "commit", "-am", "Print two")

    assert committed.returncode == 0, committed.stderr
    assert as_agent(task_git, tree.path / "app", "branch", "--show-current").stdout.strip() == "tunnels/r1/app"
    assert "app/main.py" in as_agent(task_git, tree.path / "app", "diff", "--stat", "main").stdout  # the snapshot of branches
    log = as_agent(task_git, tree.path, "log", "--format=%an|%s", "-2").stdout.splitlines()
    assert log == ["claude-tunnels agent|Print two", "Test|start"]
    # The repository: same refs, and the agent's commit is not among its objects.
    mine = as_agent(task_git, tree.path, "rev-parse", "HEAD").stdout.strip()
    assert run(repo, "for-each-ref") == refs
    assert subprocess.run(["git", "cat-file", "-e", mine], cwd=repo, check=False).returncode != 0
    assert await head_commit(tree.path) == tree.base  # the worktree's own branch did not move either


async def test_files_of_the_other_workspaces_do_not_show_as_deleted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app/main.py": "print(1)\n", "lib/v.txt": "1\n", "README.md": "# r\n"})
    tree = await worktrees.create(repo, path=tmp_path / "wt" / "r1-1", branch="tunnels/r1/app", base=await head_commit(repo))
    task_git = await agent_gitdir.prepare(tree, Path("app"))
    # As the sandbox hides them from an agent in app/:
    (tree.path / "lib" / "v.txt").unlink()
    (tree.path / "README.md").unlink()
    (tree.path / "app" / "main.py").unlink()

    status = as_agent(task_git, tree.path / "app", "status", "--porcelain").stdout

    assert status.split("\n")[0].strip() == "D app/main.py" and "lib/" not in status and "README" not in status


async def test_its_configuration_is_fixed_and_it_goes_with_the_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    tree = await worktrees.create(repo, path=tmp_path / "wt" / "r1-1", branch="tunnels/r1/a", base=await head_commit(repo))
    task_git = await agent_gitdir.prepare(tree)

    assert task_git.own_dir == tmp_path / "wt" / "r1-1.git"
    assert task_git.read_only() == (repo / ".git", task_git.own_dir / "config", task_git.own_dir / "hooks")
    assert "editor = true" in (task_git.own_dir / "config").read_text()  # `git commit` without -m never waits for an editor
    await worktrees.remove(tree, delete_branch=True)
    assert not task_git.own_dir.exists() and not tree.path.exists()
