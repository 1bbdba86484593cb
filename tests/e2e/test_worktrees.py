"""A worktree and a branch per task, on real git repositories: the user's checkout stays untouched,
each branch holds exactly its task's changes, the facts come from git (not the agent), upstream
changes flow through git, and a failed task leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskFailed, WorkspaceTaskStarted, WorkspaceTaskSucceeded
from claude_tunnels.events.values import FileDiff
from tests.e2e.scenarios import plan, router
from tests.e2e.world import world
from tests.git.repos import run


def writes(workspace: str, files: dict[str, str], *, summary: str, claims: list[str], tests: str = "pass") -> dict[str, Any]:
    turns: list[dict[str, Any]] = [
        {"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/" + name, "content": text}}]} for name, text in files.items()
    ]
    turns.append({"structured_output": {"summary": summary, "changed_files": claims, "test_result": tests}})
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": turns}


def git_init(folder: Path) -> None:
    run(folder, "init", "--quiet", "--initial-branch", "main")
    run(folder, "add", "--all")
    run(folder, "commit", "--quiet", "-m", "start")


async def test_tasks_run_on_their_own_branches_and_the_orchestrator_records_what_git_says(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [
        router(["web-app", "api-service"], "move to v2"),
        plan("v2", ("web-app/backend", "pin v2", []), ("web-app/frontend", "use v2", ["web-app/backend"]),
             ("api-service", "pin v2", [])),
        writes("web-app/backend", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="backend pins v2",
               claims=["requirements.txt", "setup.py"]),
        writes("web-app/frontend", {"package.json": '{"apiVersion": "2"}\n'}, summary="frontend on v2", claims=["package.json"]),
        writes("api-service", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="api pins v2", claims=["requirements.txt"]),
    ]})
    async with world(tmp_path, scenario) as w:
        # web-app is a monorepo (two workspaces in one repository); api-service is not in git.
        (w.root / "web-app" / "backend" / "CLAUDE.md").write_text("---\ntest: grep -q 'shared-lib==1' requirements.txt\n---\n# backend\n")
        git_init(w.root / "web-app")
        base = run(w.root / "web-app", "rev-parse", "HEAD").strip()
        await w.ask("in web-app and api-service: move to v2", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and final.succeeded == 3, final

        done = {e.workspace: e for e in w.of_type(WorkspaceTaskSucceeded)}  # type: ignore[attr-defined]
        backend, frontend, api = done["web-app/backend"].facts, done["web-app/frontend"].facts, done["api-service"].facts  # type: ignore[attr-defined]
        repo = w.root / "web-app"
        # The user's checkout is untouched: same branch, same files, nothing uncommitted.
        assert run(repo, "rev-parse", "HEAD").strip() == base and not run(repo, "status", "--porcelain").strip()
        assert (repo / "backend" / "requirements.txt").read_text() == "shared-lib==1.4.0\n"
        # Each branch holds exactly its task's changes; the recorded diff is git's.
        assert backend.repo == "web-app" and backend.base == base and backend.branch.startswith("tunnels/")
        assert run(repo, "diff", "--name-only", f"{backend.start}..{backend.commit}").split() == ["backend/requirements.txt"]
        assert backend.files == [FileDiff(path="backend/requirements.txt", added=1, removed=1)]
        assert run(repo, "diff", "--numstat", f"{backend.start}..{backend.commit}").split()[:2] == ["1", "1"]
        # The dependant started from its upstream's branch: the backend's change is in its history.
        assert run(repo, "merge-base", "--is-ancestor", backend.commit, frontend.commit) == ""
        assert [f.path for f in frontend.files] == ["frontend/package.json"]
        assert run(repo, "show", f"{frontend.commit}:backend/requirements.txt") == "shared-lib==2.0.0\n"
        # The declared test ran on the task's worktree and failed; the agent claimed a pass: both kept, the mismatch said.
        assert backend.test is not None and not backend.test.passed and backend.test.command.startswith("grep")
        assert done["web-app/backend"].result.test_result == "pass"  # type: ignore[attr-defined]
        assert any("tests pass" in note and "failed" in note for note in backend.mismatches)
        assert "claimed changed but unchanged: setup.py" in backend.mismatches
        # Outside git: changed in place, the files from the orchestrator's manifest.
        assert (w.root / "api-service" / "requirements.txt").read_text() == "shared-lib==2.0.0\n"
        assert api.branch == "" and [f.path for f in api.files] == ["requirements.txt"]
        # Nothing is left over: no worktree of ours, only the task branches.
        assert not any((w.root / ".tunnels" / "worktrees").rglob("*.txt"))
        assert run(repo, "worktree", "list").count("\n") == 1


async def test_a_failed_task_leaves_nothing_in_the_users_tree_and_its_branch_holds_its_work(tmp_path: Path) -> None:
    crash = {"name": "web-app/backend", "match": ["Workspace: web-app/backend\n"], "turns": [
        {"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/half-done.py", "content": "x = 1\n"}}]},
        {"error": {"status": 400, "type": "invalid_request_error", "message": "scripted crash"}},
    ]}
    scenario = json.dumps({"scripts": [plan("crash", ("web-app/backend", "start something", [])), crash]})
    async with world(tmp_path, scenario) as w:
        git_init(w.root / "web-app")
        await w.ask("in web-app/backend: start something", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        [failed] = w.of_type(WorkspaceTaskFailed)
        assert "scripted crash" in failed.error  # type: ignore[attr-defined]
        repo = w.root / "web-app"
        assert not (repo / "backend" / "half-done.py").exists() and not run(repo, "status", "--porcelain").strip()
        [branch] = run(repo, "branch", "--list", "tunnels/*", "--format=%(refname:short)").split()
        assert run(repo, "show", f"{branch}:backend/half-done.py") == "x = 1\n"  # kept for git.keep_failed_days
        assert "Tunnels-Outcome: unfinished" in run(repo, "log", "-1", "--format=%B", branch)
        assert run(repo, "worktree", "list").count("\n") == 1
        assert final.failed == 1  # type: ignore[attr-defined]


async def test_two_requests_on_one_git_workspace_run_at_once_each_on_its_own_branch(tmp_path: Path) -> None:
    slow = writes("web-app/backend", {"a.txt": "from the first\n"}, summary="first", claims=["a.txt"])
    slow["name"], slow["match"] = "backend-first", [*slow["match"], "FIRST"]
    slow["turns"][-1]["delay_s"] = 5  # the first task is still running when the second is dispatched
    fast = writes("web-app/backend", {"b.txt": "from the second\n"}, summary="second", claims=["b.txt"])
    fast["name"], fast["match"] = "backend-second", [*fast["match"], "SECOND"]
    scenario = json.dumps({"scripts": [
        plan("first", ("web-app/backend", "FIRST change", []), match="FIRST"),
        plan("second", ("web-app/backend", "SECOND change", []), match="SECOND"),
        slow, fast,
    ]})
    async with world(tmp_path, scenario) as w:
        git_init(w.root / "web-app")
        events = Watch(w.orchestrator)
        await w.ask("in web-app/backend: FIRST change", lambda e: isinstance(e, ConfirmationRequested))
        await w.ask("yes", lambda e: isinstance(e, WorkspaceTaskStarted))
        # Bob, in a conversation of his own, asks for another change of the same workspace.
        bob = "terminal:bob"
        await w.orchestrator.post_message(session_key=bob, channel="terminal", sender=bob, text="in web-app/backend: SECOND change", message_ref="b1")
        await events.until(lambda e: isinstance(e, ConfirmationRequested) and e.session_key == bob)
        await w.orchestrator.post_message(session_key=bob, channel="terminal", sender=bob, text="yes", message_ref="b2")
        second = await events.until(lambda e: isinstance(e, WorkspaceTaskSucceeded) and e.session_key == bob)
        first = await events.until(lambda e: isinstance(e, WorkspaceTaskSucceeded) and e.session_key != bob)
        assert events.seen.index(second) < events.seen.index(first)  # the second did not wait for the first
        repo = w.root / "web-app"
        assert run(repo, "show", f"{first.facts.branch}:backend/a.txt") == "from the first\n"  # type: ignore[attr-defined]
        assert run(repo, "show", f"{second.facts.branch}:backend/b.txt") == "from the second\n"  # type: ignore[attr-defined]
        assert first.facts.branch != second.facts.branch and not run(repo, "status", "--porcelain").strip()  # type: ignore[attr-defined]


class Watch:
    """Every event the orchestrator folds, and a future for the first one matching a predicate."""

    def __init__(self, orchestrator: Any) -> None:
        self.seen: list[Any] = []
        self._waiting: list[tuple[Any, asyncio.Future[Any]]] = []
        orchestrator.add_listener(self._on)

    def _on(self, seq: int, event: Any) -> None:
        self.seen.append(event)
        for predicate, future in self._waiting:
            if not future.done() and predicate(event):
                future.set_result(event)

    async def until(self, predicate: Any, timeout: float = 90) -> Any:
        found = next((e for e in self.seen if predicate(e)), None)
        if found is not None:
            return found
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((predicate, future))
        return await asyncio.wait_for(future, timeout)
