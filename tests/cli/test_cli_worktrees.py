"""`tunnels worktrees` and `tunnels worktrees prune` as a user runs them, on a real repository and
a real event log: what the orchestrator made is listed with its request's state, and only what is
stale goes (`--dry-run` removes nothing, `--all` also the undecided successes, never a running task's)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from claude_tunnels.events.changes import ChangesProposed, ProposedTask, RepoChanges
from claude_tunnels.events.execution import RequestFailed
from claude_tunnels.events.values import Plan, PlannedTask
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, connect
from claude_tunnels.tunnels.git import worktrees
from claude_tunnels.tunnels.git.repository import head_commit
from tests.factories import Events
from tests.git.repos import make_repo, run

ROOT = Path(__file__).resolve().parents[2]
KEY = "terminal:alice"
FAILED, RUNNING, DONE = "01JFAILED00000000000000000", "01JRUNNING0000000000000000", "01JDONE0000000000000000000"


def tunnels(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


async def seed(server: EmbeddedNatsServer) -> None:
    now = datetime.now(UTC)
    old, recent = Events(start=now - timedelta(days=31)), Events(start=now - timedelta(hours=1))
    plan = Plan(label="web", tasks=[PlannedTask(workspace="web", task="change it")], phases=[["web"]])

    def started(ev: Events, request_id: str) -> list[Any]:
        return [ev.opened(KEY, request_id, "change web"), ev.proposed(KEY, request_id, plan), ev.approved(KEY, request_id),
                ev.phase(KEY, request_id, 1, ["web"]), ev.dispatched(KEY, request_id, "web"), ev.started(KEY, request_id, "web")]

    events = [
        *started(old, FAILED), old.failed(KEY, FAILED, "web"),
        RequestFailed(request_id=FAILED, reason="web failed", **old.envelope(KEY)),
        *started(old, DONE), old.succeeded(KEY, DONE, "web"), old.completed(KEY, DONE),
        # its changes wait in the request branch for the person's decision
        ChangesProposed(request_id=DONE, repos=[RepoChanges(
            repo="web", branch=f"tunnels/{DONE.lower()}-result", base="a" * 40, head="b" * 40,
            tasks=[ProposedTask(workspace="web", branch=f"tunnels/{DONE.lower()}/web", commit="b" * 40)],
        )], **old.envelope(KEY)),
        *started(recent, RUNNING),
    ]
    nc = await connect(server.connect_options())
    store = EventStore(nc)
    await store.ensure()
    for event in events:
        await store.append(event)
    await nc.close()


async def test_list_then_prune_what_is_stale(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "web", {"CLAUDE.md": "# web\n", "a.txt": "a\n"})
    run(repo, "branch", "feature")
    folder = tmp_path / ".tunnels" / "worktrees"
    base = await head_commit(repo)
    # A crash left the failed task's worktree; the running task has its own; the success its branch.
    await worktrees.create(repo, path=folder / FAILED / f"{FAILED}-web", branch=f"tunnels/{FAILED.lower()}/web", base=base)
    running = await worktrees.create(repo, path=folder / RUNNING / f"{RUNNING}-web", branch=f"tunnels/{RUNNING.lower()}/web", base=base)
    run(repo, "branch", f"tunnels/{DONE.lower()}/web")
    async with EmbeddedNatsServer(tmp_path / ".tunnels") as server:
        await seed(server)

        listed = tunnels(tmp_path, "worktrees")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == "repository web" and lines[1].split() == ["BRANCH", "REQUEST", "TASK", "AGE", "WORKTREE", "PRUNE"]
        row = next(line for line in lines if line.strip().startswith(f"tunnels/{FAILED.lower()}/web"))
        assert "failed" in row and f"{FAILED}/{FAILED}-web" in row and "remove: failed 3" in row and "d ago; git.keep_failed_days is 7" in row
        row = next(line for line in lines if line.strip().startswith(f"tunnels/{DONE.lower()}/web"))
        assert "finished" in row and "keep: succeeded: waits for the person's decision" in row
        row = next(line for line in lines if line.strip().startswith(f"tunnels/{RUNNING.lower()}/web"))
        assert "running" in row and "keep:" in row
        assert lines[-1] == "prune: would remove 1 worktree and 1 branch (tunnels worktrees prune; --all: everything no open request needs)"
        as_json = [json.loads(line) for line in tunnels(tmp_path, "worktrees", "--json").stdout.splitlines()]
        assert {(o["kind"], o["request_status"], o["prune"]) for o in as_json} >= {("branch", "failed", True), ("worktree", "executing", False)}

        dry = tunnels(tmp_path, "worktrees", "prune", "--dry-run")
        assert dry.returncode == 0 and dry.stdout.splitlines()[-1] == "would remove 1 worktree and 1 branch", dry.stdout
        assert (folder / FAILED).exists()

        pruned = tunnels(tmp_path, "worktrees", "prune")
        assert pruned.returncode == 0, pruned.stderr
        assert f"removed branch tunnels/{FAILED.lower()}/web of web (failed 3" in pruned.stdout
        assert pruned.stdout.splitlines()[-1] == "removed 1 worktree and 1 branch"
        assert not (folder / FAILED).exists() and running.path.is_dir()

        everything = tunnels(tmp_path, "worktrees", "prune", "--all")
        assert everything.stdout.splitlines()[-1] == "removed 1 branch", everything.stdout
    branches = run(repo, "branch", "--format=%(refname:short)").split()
    assert sorted(branches) == sorted(["main", "feature", f"tunnels/{RUNNING.lower()}/web"])  # the running task's stays
    assert run(repo, "worktree", "list").count("\n") == 2


async def test_nothing_of_ours_is_said_plainly(tmp_path: Path) -> None:
    make_repo(tmp_path / "web", {"CLAUDE.md": "# web\n"})
    result = tunnels(tmp_path, "worktrees")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nothing of ours: no branch named tunnels/… in 1 repository")
