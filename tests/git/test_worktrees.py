"""Worktrees per task on real repositories: made at a base, committed, diffed, merged, removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.tunnels.git import worktrees
from claude_tunnels.tunnels.git.repository import FileChange, changes, current_branch, head_commit, is_clean, repository_root
from claude_tunnels.tunnels.git.run import GitError
from tests.git.repos import make_repo, run


async def test_a_task_branch_holds_exactly_its_changes_and_the_checkout_is_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app/main.py": "print(1)\n", "README.md": "# r\n"})
    (repo / "app" / "local-edit.txt").write_text("the user's own uncommitted work\n")
    base = await head_commit(repo)
    tree = await worktrees.create(repo, path=tmp_path / "wt" / "t1", branch="tunnels/r1/app", base=base)
    (tree.path / "app" / "main.py").write_text("print(2)\nprint(3)\n")
    (tree.path / "app" / "new.py").write_text("x = 1\n")

    commit = await worktrees.commit_all(tree, "Bump the app", {"Tunnels-Request": "r1", "Tunnels-Task": "r1-1"})

    assert commit is not None and await head_commit(repo, tree.branch) == commit
    assert sorted(await changes(repo, base, tree.branch), key=lambda c: c.path) == [
        FileChange("app/main.py", 2, 1), FileChange("app/new.py", 1, 0),
    ]
    message = run(repo, "log", "-1", "--format=%an|%B", tree.branch)
    assert message.startswith("claude-tunnels|Bump the app") and "Tunnels-Request: r1\nTunnels-Task: r1-1" in message
    # The user's checkout: same branch, same files, their own edit still there.
    assert await current_branch(repo) == "main" and (repo / "app" / "main.py").read_text() == "print(1)\n"
    assert (repo / "app" / "local-edit.txt").exists() and not (repo / "app" / "new.py").exists()
    assert await repository_root(tree.path / "app") == tree.path.resolve()


async def test_nothing_changed_means_no_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    tree = await worktrees.create(repo, path=tmp_path / "wt", branch="tunnels/r1/a", base=await head_commit(repo))
    assert await worktrees.commit_all(tree, "nothing", {}) is None


async def test_a_dependant_starts_from_its_dependencies_merged_and_a_conflict_names_the_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"lib/v.txt": "1\n", "app/use.txt": "uses 1\n"})
    base = await head_commit(repo)
    lib = await worktrees.create(repo, path=tmp_path / "wt" / "lib", branch="tunnels/r1/lib", base=base)
    (lib.path / "lib" / "v.txt").write_text("2\n")
    await worktrees.commit_all(lib, "lib v2", {})
    other = await worktrees.create(repo, path=tmp_path / "wt" / "other", branch="tunnels/r1/other", base=base)
    (other.path / "lib" / "v.txt").write_text("3\n")
    await worktrees.commit_all(other, "lib v3", {})

    app = await worktrees.create(repo, path=tmp_path / "wt" / "app", branch="tunnels/r1/app", base=base)
    await worktrees.merge(app, ["tunnels/r1/lib"])
    assert (app.path / "lib" / "v.txt").read_text() == "2\n"

    with pytest.raises(worktrees.MergeConflict) as conflict:
        await worktrees.merge(app, ["tunnels/r1/other"])
    assert conflict.value.files == ["lib/v.txt"] and "lib/v.txt" in str(conflict.value)
    assert await is_clean(app.path)  # the failed merge was aborted: nothing half-merged is left


async def test_removing_leaves_nothing_behind_and_lists_only_ours(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    base = await head_commit(repo)
    run(repo, "branch", "feature/mine")
    kept = await worktrees.create(repo, path=tmp_path / "wt" / "kept", branch="tunnels/r1/kept", base=base)
    gone = await worktrees.create(repo, path=tmp_path / "wt" / "gone", branch="tunnels/r1/gone", base=base)
    (gone.path / "half-done.txt").write_text("x\n")

    await worktrees.remove(gone, delete_branch=True)
    await worktrees.remove(kept, delete_branch=False)

    assert not gone.path.exists() and not kept.path.exists()
    assert await worktrees.ours(repo, "tunnels/") == [("tunnels/r1/kept", None)]
    assert "feature/mine" in run(repo, "branch", "--list")  # the user's branches are never touched
    assert not (repo / "half-done.txt").exists()


async def test_a_branch_left_by_an_interrupted_run_is_made_again_from_the_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    base = await head_commit(repo)
    first = await worktrees.create(repo, path=tmp_path / "wt" / "t", branch="tunnels/r1/a", base=base)
    (first.path / "a.txt").write_text("half\n")
    await worktrees.commit_all(first, "half done", {})
    # The run died; the worktree folder went with its machine's tmp, the branch stayed.
    import shutil
    shutil.rmtree(first.path)

    again = await worktrees.create(repo, path=tmp_path / "wt" / "t", branch="tunnels/r1/a", base=base)

    assert (again.path / "a.txt").read_text() == "a\n" and await head_commit(repo, again.branch) == base


async def test_the_orchestrator_commits_through_the_repository_not_the_worktrees_git_file(tmp_path: Path) -> None:
    # What ran in the worktree (a declared test may write there) rewrote its `.git` file to lead
    # to a repository of its making, whose configuration would run a command: it is not followed.
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    tree = await worktrees.create(repo, path=tmp_path / "wt" / "r1-1", branch="tunnels/r1/a", base=await head_commit(repo))
    evil = tree.path / "evil.git"
    run(tree.path, "init", "--quiet", "--bare", str(evil))
    marker = tmp_path / "pwned"
    (evil / "config").write_text(f"[core]\n\tbare = false\n\tfsmonitor = touch {marker}\n")
    (tree.path / ".git").write_text(f"gitdir: {evil}\n")
    (tree.path / "a.txt").write_text("b\n")

    commit = await worktrees.commit_all(tree, "change a", {})

    assert not marker.exists()
    assert commit is not None and await head_commit(repo, tree.branch) == commit
    assert run(repo, "show", f"{commit}:a.txt") == "b\n"


async def test_a_worktree_whose_head_left_its_branch_is_never_committed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    main = await head_commit(repo)
    tree = await worktrees.create(repo, path=tmp_path / "wt" / "r1-1", branch="tunnels/r1/a", base=main)
    assert tree.admin is not None
    (tree.admin / "HEAD").write_text("ref: refs/heads/main\n")
    (tree.path / "a.txt").write_text("b\n")

    with pytest.raises(GitError, match="not its branch tunnels/r1/a"):
        await worktrees.commit_all(tree, "onto main?", {})

    assert await head_commit(repo, "main") == main
