"""A request's changes in real git repositories (`GitIntegrator`): the request branch holds exactly
the tasks' changes, Merge moves the base branch without ever clobbering the user's edits (refusing,
with the files, when it would), Open PR pushes to a real remote and opens the pull request on a
fake of GitHub's API, Discard leaves no branch."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.actors.ports import Discarded, Merged, Pushed, Refusal, RepoWork
from claude_tunnels.config.credentials import Secret
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.config.settings import GitHubSettings, GitSettings, Settings
from claude_tunnels.events.changes import ProposedTask, RepoChanges
from claude_tunnels.tunnels.git import worktrees
from claude_tunnels.tunnels.git.github import HostedRepo, parse_remote
from claude_tunnels.tunnels.git.integrate import GitIntegrator
from claude_tunnels.tunnels.git.repository import head_commit
from tests.fakes.github import FakeGitHub
from tests.git.repos import make_repo, run

RID = "01JREQUEST0000000000000001"
TOKEN = "ghp_fake-token-for-tests"


def integrator(root: Path, *, token: str | None = None, api_url: str = "https://api.github.com") -> GitIntegrator:
    settings = Settings(git=GitSettings(github=GitHubSettings(api_url=api_url)))
    loaded = LoadedSettings(settings=settings, config_path=None, root=root, state_dir=root / ".tunnels",
                            archive_dir=root / "ARCHIVE", task_log_dir=root / ".tasks")
    return GitIntegrator(loaded, token=Secret(token) if token else None)


async def task(repo: Path, workspace: str, files: dict[str, str], base: str, rid: str = RID) -> ProposedTask:
    """What a task leaves: its branch at `base` with one commit of `files` (made as the orchestrator does)."""
    tree = await worktrees.create(repo, path=repo.parent / "wt" / rid / workspace.replace("/", "-"),
                                  branch=f"tunnels/{rid.lower()}/{workspace}", base=base)
    for name, text in files.items():
        (tree.path / name).parent.mkdir(parents=True, exist_ok=True)
        (tree.path / name).write_text(text)
    commit = await worktrees.commit_all(tree, f"{workspace} changed", {"Tunnels-Request": rid})
    await worktrees.remove(tree, delete_branch=False)
    assert commit is not None
    return ProposedTask(workspace=workspace, branch=tree.branch, commit=commit, test_command="true", test_passed=True)


async def proposed(tmp_path: Path, tasks: dict[str, dict[str, str]], rid: str = RID) -> tuple[Path, GitIntegrator, RepoChanges]:
    repo = make_repo(tmp_path / "web", {"backend/api.py": "v1\n", "frontend/app.js": "one\n", "README.md": "# web\n"})
    base = await head_commit(repo)
    made = [await task(repo, workspace, files, base, rid) for workspace, files in tasks.items()]
    gate = integrator(tmp_path)
    changes = await gate.propose(rid, RepoWork(repo="web", base=base, base_branch="main", tasks=made))
    assert changes is not None
    return repo, gate, changes


def branches(repo: Path) -> list[str]:
    return run(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/tunnels/").split()


async def test_the_request_branch_holds_every_task_and_the_recorded_diff_is_gits(tmp_path: Path) -> None:
    repo, _, changes = await proposed(tmp_path, {
        "web/backend": {"backend/api.py": "v2\nmore\n"}, "web/frontend": {"frontend/app.js": "two\n", "frontend/new.js": "n\n"},
    })
    assert changes.branch == f"tunnels/{RID.lower()}-result" and changes.base_branch == "main"
    assert run(repo, "rev-parse", changes.branch).strip() == changes.head
    numstat = sorted(line.split("\t") for line in run(repo, "diff", "--numstat", f"{changes.base}..{changes.branch}").splitlines())
    assert sorted([str(f.added), str(f.removed), f.path] for f in changes.files) == numstat
    assert [f.path for f in changes.files] == ["backend/api.py", "frontend/app.js", "frontend/new.js"]
    assert run(repo, "show", f"{changes.branch}:backend/api.py") == "v2\nmore\n"
    # Nobody's checkout moved: main and the working tree are as they were.
    assert run(repo, "rev-parse", "main").strip() == changes.base and (repo / "backend" / "api.py").read_text() == "v1\n"
    assert not run(repo, "status", "--porcelain").strip()


async def test_a_task_whose_changes_conflict_with_an_earlier_one_is_left_out_and_said(tmp_path: Path) -> None:
    _, _, changes = await proposed(tmp_path, {
        "web/backend": {"backend/api.py": "from the backend\n"}, "web/docs": {"backend/api.py": "from the docs\n", "README.md": "x\n"},
    })
    left = [t for t in changes.tasks if t.left_out]
    assert [t.workspace for t in left] == ["web/docs"] and "backend/api.py" in left[0].left_out
    assert [f.path for f in changes.files] == ["backend/api.py"]


async def test_merge_fast_forwards_the_checked_out_branch_keeping_the_users_other_edits(tmp_path: Path) -> None:
    repo, gate, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n"}})
    (repo / "README.md").write_text("# web, my own unsaved notes\n")  # uncommitted, but not a file the merge changes

    merged = await gate.merge(RID, changes, "Merge it\n")

    assert isinstance(merged, Merged) and merged.fast_forward and Path(merged.checkout) == repo
    assert run(repo, "rev-parse", "main").strip() == changes.head == merged.commit
    assert (repo / "backend" / "api.py").read_text() == "v2\n" and (repo / "README.md").read_text() == "# web, my own unsaved notes\n"
    assert run(repo, "status", "--porcelain").split() == ["M", "README.md"]
    assert branches(repo) == []  # the request branch and the task branch are gone


async def test_merge_refuses_when_the_checkout_has_uncommitted_edits_to_those_files(tmp_path: Path) -> None:
    repo, gate, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n", "backend/new.py": "n\n"}})
    (repo / "backend" / "api.py").write_text("v1 and my edit\n")
    (repo / "backend" / "new.py").write_text("mine, untracked\n")

    refused = await gate.merge(RID, changes, "Merge it\n")

    assert isinstance(refused, Refusal) and refused.files == ["backend/api.py", "backend/new.py"]
    assert "uncommitted changes" in refused.reason and "main" in refused.reason
    assert (repo / "backend" / "api.py").read_text() == "v1 and my edit\n" and (repo / "backend" / "new.py").read_text() == "mine, untracked\n"
    assert run(repo, "rev-parse", "main").strip() == changes.base and changes.branch in branches(repo)


async def test_merge_into_a_moved_base_makes_a_merge_commit_or_refuses_naming_the_conflicts(tmp_path: Path) -> None:
    repo, gate, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n"}})
    run(repo, "checkout", "--quiet", "-b", "elsewhere")  # main is checked out nowhere now: the ref is moved
    run(repo, "commit", "--quiet", "--allow-empty", "-m", "on elsewhere")
    (repo / "frontend" / "app.js").write_text("someone else's\n")
    run(repo, "commit", "--quiet", "-am", "another change of main's files")
    run(repo, "update-ref", "refs/heads/main", "HEAD")

    merged = await gate.merge(RID, changes, "Merge the request\n\nTunnels-Request: r\n")

    assert isinstance(merged, Merged) and not merged.fast_forward and merged.checkout == ""
    assert run(repo, "rev-parse", "main^2").strip() == changes.head
    assert run(repo, "show", "main:frontend/app.js") == "someone else's\n" and run(repo, "show", "main:backend/api.py") == "v2\n"
    assert "Tunnels-Request: r" in run(repo, "log", "-1", "--format=%B", "main")

    _, gate, second = await proposed(tmp_path / "again", {"web/backend": {"backend/api.py": "ours\n"}})
    other = tmp_path / "again" / "web"
    (other / "backend" / "api.py").write_text("theirs\n")
    run(other, "commit", "--quiet", "-am", "main moved")
    refused = await gate.merge(RID, second, "m\n")
    assert isinstance(refused, Refusal) and refused.files == ["backend/api.py"] and "conflicts" in refused.reason
    assert (other / "backend" / "api.py").read_text() == "theirs\n" and not run(other, "status", "--porcelain").strip()


async def test_merge_after_a_restart_finds_it_done(tmp_path: Path) -> None:
    repo, gate, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n"}})
    first = await gate.merge(RID, changes, "m\n")
    again = await gate.merge(RID, changes, "m\n")
    assert isinstance(first, Merged) and isinstance(again, Merged) and again.commit == first.commit
    assert run(repo, "rev-list", "--count", "main").strip() == "2"


async def test_discard_deletes_every_branch_of_the_request(tmp_path: Path) -> None:
    repo, gate, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n"}})
    base = await head_commit(repo)
    await task(repo, "web/frontend", {"frontend/app.js": "half\n"}, base)  # a failed task's kept branch
    await task(repo, "web/backend", {"x": "y\n"}, base, rid="01JOTHER000000000000000001")  # another request's

    discarded = await gate.discard(RID, changes)

    assert isinstance(discarded, Discarded) and len(discarded.branches) == 3
    assert branches(repo) == ["tunnels/01jother000000000000000001/web/backend"]
    assert run(repo, "rev-parse", "main").strip() == base and not run(repo, "status", "--porcelain").strip()


async def test_open_pr_pushes_the_branch_and_opens_the_pull_request(tmp_path: Path) -> None:
    repo, _, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n"}})
    bare = tmp_path / "remote.git"
    run(tmp_path, "init", "--quiet", "--bare", str(bare))
    run(repo, "remote", "add", "origin", "https://github.com/acme/web.git")
    run(repo, "remote", "set-url", "--push", "origin", str(bare))  # pushes go to the local bare repository
    async with FakeGitHub(TOKEN) as github:
        gate = integrator(tmp_path, token=TOKEN, api_url=github.api_url)
        pushed = await gate.publish(RID, changes, "API v2 (request r)", "the body")
        again = await gate.publish(RID, changes, "API v2 (request r)", "the body")  # carried out again: the same one

        assert isinstance(pushed, Pushed) and pushed.pr_url == "https://github.example/acme/web/pull/1" and pushed.pr_number == 1
        assert isinstance(again, Pushed) and again.pr_url == pushed.pr_url and len(github.pulls) == 1
        [call, _] = github.opened()
        assert (call.owner, call.repo) == ("acme", "web") and call.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.body == {"title": "API v2 (request r)", "head": changes.branch, "base": "main", "body": "the body"}
        assert pushed.compare_url == f"https://github.com/acme/web/compare/main...{changes.branch}?expand=1"
    assert run(bare, "rev-parse", changes.branch).strip() == changes.head
    assert branches(repo) == [changes.branch]  # the task branch is gone; the request branch backs the pull request


async def test_open_pr_without_a_token_pushes_and_says_so_and_a_refused_token_is_told(tmp_path: Path) -> None:
    repo, gate, changes = await proposed(tmp_path, {"web/backend": {"backend/api.py": "v2\n"}})
    assert isinstance(refused := await gate.publish(RID, changes, "t", "b"), Refusal) and "no remote named origin" in refused.reason
    bare = tmp_path / "remote.git"
    run(tmp_path, "init", "--quiet", "--bare", str(bare))
    run(repo, "remote", "add", "origin", "git@github.com:acme/web.git")
    run(repo, "remote", "set-url", "--push", "origin", str(bare))
    pushed = await gate.publish(RID, changes, "t", "b")
    assert isinstance(pushed, Pushed) and not pushed.pr_url and "no GitHub token" in pushed.note
    assert pushed.compare_url.startswith("https://github.com/acme/web/compare/main...") and run(bare, "rev-parse", changes.branch).strip() == changes.head
    async with FakeGitHub("the-right-token") as github:
        refused = await integrator(tmp_path, token=TOKEN, api_url=github.api_url).publish(RID, changes, "t", "b")
    assert isinstance(refused, Refusal) and "401" in refused.reason and "Bad credentials" in refused.reason and TOKEN not in refused.reason


def test_the_owner_and_name_of_a_remote_are_read_from_its_url() -> None:
    acme = HostedRepo("github.com", "acme", "web")
    assert parse_remote("git@github.com:acme/web.git") == acme
    assert parse_remote("https://github.com/acme/web") == acme
    assert parse_remote("https://user:secret@github.com/acme/web.git/") == acme
    assert parse_remote("ssh://git@ghe.example:2222/acme/web.git") == HostedRepo("ghe.example", "acme", "web")
    for local in ("/srv/git/web.git", "../web", "file:///srv/web.git", "https://github.com/acme", "git@github.com:a/b/c.git"):
        assert parse_remote(local) is None, local
