"""SIGKILL of the orchestrator at chosen moments, then a restart on the same store (real nats-server,
real Claude Code CLI against the scripted model, real git repositories).

The killed process is `tests.helpers.resume_proc`, which kills itself from the projection
listener when the chosen event is folded: before any actor reacts to it, as a crash right after it
was stored. The restart runs here, its terminals attached before recovery (as `tunnels chat`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.execution import RequestResumed, WorkspaceTaskDispatched
from claude_tunnels.events.log import Stored
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import plan, router, scenario
from tests.e2e.world import BASE_LIMITS
from tests.git.repos import run
from tests.helpers.resume_proc import Runner

ROOT = Path(__file__).resolve().parents[2]


def writes(workspace: str, *, delay_s: float = 0, hang: bool = False) -> dict[str, Any]:
    """A workspace script that writes `<workspace's last name>.txt`, then answers (after `delay_s`, or never)."""
    name = workspace.split("/")[-1]
    final: dict[str, Any] = {"hang": True} if hang else {
        "structured_output": {"summary": f"{name} written", "changed_files": [f"{name}.txt"], "test_result": "pass"},
        **({"delay_s": delay_s} if delay_s else {}),
    }
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [
        {"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/" + f"{name}.txt", "content": f"{name}\n"}}]}, final,
    ]}


def tree(tmp_path: Path) -> tuple[Path, Any]:
    """The sample tree with web-app and shared-lib in git (api-service outside), and its settings."""
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}, "limits": BASE_LIMITS}))
    for project in ("web-app", "shared-lib"):
        run(root / project, "init", "--quiet", "--initial-branch", "main")
        run(root / project, "add", "--all")
        run(root / project, "commit", "--quiet", "-m", "start")
    return root, load_settings(root / "orchestrator.yaml")


async def crash(tmp_path: Path, root: Path, first: str, script: dict[str, Any]) -> list[dict[str, Any]]:
    """Run `resume_proc` with scenario `first` until it kills itself; the events it folded."""
    (tmp_path / "first.yaml").write_text(first)
    (tmp_path / "script.json").write_text(json.dumps(script))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.resume_proc", str(root), str(tmp_path / "first.yaml"), str(tmp_path / "script.json"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        lines = (await asyncio.wait_for(process.stdout.read(), 180)).decode().splitlines()
        assert await process.wait() == -signal.SIGKILL, lines[-5:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def restart(root: Path, second: str, users: list[str], during: Any = None) -> tuple[list[Stored], dict[str, str]]:
    """Start again on the same store with scenario `second`, until no request is open and every
    reply due has been printed (and confirmed); the stream, and what each terminal printed."""
    loaded = load_settings(root / "orchestrator.yaml")
    runner = Runner({"users": users, "approve": True})
    async with ScriptedModelServer(parse_scenario(second)) as model, Orchestrator(loaded, agent_env=model.env(), channels=runner.attach) as o:
        if during is not None:
            await during(o, runner)
        await asyncio.wait_for(runner.run(), 180)
        stored = await o.store.read()
    return stored, {key.removeprefix("terminal:"): t.out.getvalue() for key, t in runner.terminals.items()}  # type: ignore[attr-defined]


def by_request(stored: list[Stored]) -> dict[str, list[AnyEvent]]:
    out: dict[str, list[AnyEvent]] = {}
    for s in stored:
        rid = getattr(s.event, "request_id", None)
        if rid:
            out.setdefault(rid, []).append(s.event)
    return out


def assert_one_outcome_each(stored: list[Stored]) -> None:
    """Every request ended exactly once, nothing was dispatched after its end, and its end was
    confirmed posted exactly once."""
    posted = Counter(getattr(s.event, "in_reply_to", None) for s in stored if s.event.type == "reply.posted")
    for rid, events in by_request(stored).items():
        ends = [e for e in events if isinstance(e, REQUEST_ENDED)]
        assert len(ends) == 1, (rid, [e.type for e in ends])
        after = events[events.index(ends[0]):]
        assert not [e for e in after if isinstance(e, WorkspaceTaskDispatched)], rid
        assert posted[ends[0].id] == 1, (rid, ends[0].type)


def no_worktree_left(root: Path) -> None:
    for project in ("web-app", "shared-lib"):
        assert run(root / project, "worktree", "list").count("\n") == 1, run(root / project, "worktree", "list")
        assert not run(root / project, "status", "--porcelain").strip()  # the user's checkout untouched
    assert not [p for p in (root / ".tunnels" / "worktrees").rglob("*") if p.is_file()]


def commits_of(repo: Path, branch: str, task_id: str) -> int:
    """The orchestrator's commits on `branch` for `task_id`."""
    return run(repo, "log", "--format=%B", branch).count(f"Tunnels-Task: {task_id}\n")


async def test_a_crash_in_the_middle_of_four_requests(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    plans = [
        plan("ann", ("web-app/backend", "ANN backend", []), ("web-app/frontend", "ANN frontend", ["web-app/backend"]), match="ANN"),
        plan("bob", ("api-service", "BOB api", []), ("shared-lib/docs", "BOB docs", []), ("shared-lib/core", "BOB core", ["api-service"]),
             match="BOB"),
        plan("dan", ("shared-lib/core", "DAN core", []), match="DAN"),
    ]
    quick = [writes("web-app/frontend"), writes("shared-lib/docs"), writes("shared-lib/core"),
             router(["api-service", "shared-lib"], "BOB change")]  # names are hints: Bob's two projects are routed
    first = scenario(*plans, {"name": "planner-carl", "match": ["Plan the workspace tasks.", "CARL"], "turns": [{"hang": True}]},
                     writes("web-app/backend", hang=True), writes("api-service", hang=True), *quick)
    second = scenario(*plans, plan("carl", ("shared-lib/docs", "CARL docs", []), match="CARL"),
                      writes("web-app/backend"), writes("api-service"), *quick)
    # Carl's request is being planned, Ann's git task and Bob's task outside git run, and Dan's
    # only task has just succeeded when the orchestrator dies.
    folded = await crash(tmp_path, root, first, {
        "users": ["ann", "bob", "carl", "dan"], "approve": True, "crash": "task.succeeded@shared-lib/core",
        "steps": [
            {"user": "carl", "say": "in shared-lib: CARL docs"},
            {"user": "ann", "say": "in web-app: ANN change"},
            {"user": "bob", "say": "in api-service and shared-lib: BOB change"},
            {"user": "dan", "say": "in shared-lib/core: DAN change", "after": ["task.started@web-app/backend", "task.started@api-service"]},
        ],
    })
    assert folded[-1]["type"] == "task.succeeded" and (root / "web-app" / ".git").exists()
    stored, printed = await restart(root, second, ["ann", "bob", "carl", "dan"])

    assert_one_outcome_each(stored)
    requests = by_request(stored)
    rid = {e.session_key.removeprefix("terminal:"): r for r, events in requests.items() for e in events[:1]}
    ends = {user: next(e for e in requests[r] if isinstance(e, REQUEST_ENDED)) for user, r in rid.items()}
    resumed = {user: [e for e in requests[r] if isinstance(e, RequestResumed)] for user, r in rid.items()}
    dispatched = {user: Counter(e.workspace for e in requests[r] if isinstance(e, WorkspaceTaskDispatched)) for user, r in rid.items()}

    # Ann: her git task was rolled back and ran again once, from a clean worktree; one commit of its own.
    assert [(r.stage, r.rerun, r.interrupted) for r in resumed["ann"]] == [("execution", ["web-app/backend"], [])]
    assert ends["ann"].type == "request.completed" and ends["ann"].succeeded == 2  # type: ignore[attr-defined]
    assert dispatched["ann"] == {"web-app/backend": 2, "web-app/frontend": 1}
    backend = next(e for e in requests[rid["ann"]] if e.type == "task.succeeded" and e.workspace == "web-app/backend")  # type: ignore[attr-defined]
    assert commits_of(root / "web-app", backend.facts.branch, backend.task_id) == 1  # type: ignore[attr-defined]
    # Bob: outside git, his interrupted task is reported, not run again; its dependant is skipped, the rest stands.
    assert [(r.rerun, r.interrupted, r.finished) for r in resumed["bob"]] == [([], ["api-service"], 1)]
    assert dispatched["bob"] == {"api-service": 1, "shared-lib/docs": 1}
    assert (ends["bob"].succeeded, ends["bob"].failed, ends["bob"].skipped) == (1, 1, 1)  # type: ignore[attr-defined]
    assert "Finished with failures" in printed["bob"] and "Done (request" not in printed["bob"]
    # Carl: nothing had run; planned again, once, then approved and run.
    assert [r.stage for r in resumed["carl"]] == ["planning"] and ends["carl"].type == "request.completed"
    assert sum(e.type == "plan.proposed" for e in requests[rid["carl"]]) == 1
    # Dan: his only task had succeeded; the request completes without running it again, and he hears it.
    assert resumed["dan"] == [] and dispatched["dan"] == {"shared-lib/core": 1} and ends["dan"].type == "request.completed"
    assert printed["dan"].count("Done (request") == 1
    for user in ("ann", "bob", "carl"):
        assert printed[user].count("after an orchestrator restart") + printed[user].count("nothing had run") == 1, printed[user]
    no_worktree_left(root)


async def test_killed_just_after_the_approval_was_stored_and_the_event_bus_dies_too(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    ask = plan("eve", ("web-app/backend", "EVE backend", []), ("web-app/frontend", "EVE frontend", ["web-app/backend"]), match="EVE")
    first = scenario(ask, writes("web-app/backend"), writes("web-app/frontend"))
    await crash(tmp_path, root, first, {
        "users": ["eve"], "approve": True, "crash": "plan.approved", "steps": [{"user": "eve", "say": "in web-app: EVE change"}],
    })
    second = scenario(ask, writes("web-app/backend", delay_s=2), writes("web-app/frontend"))
    servers: list[int] = []

    async def kill_the_bus(o: Orchestrator, runner: Runner) -> None:
        # Once the first task runs, the embedded nats-server dies; it is started again on the same store.
        assert o.backbone is not None and o.backbone.server is not None
        server = o.backbone.server
        started = runner.terminals["terminal:eve"].watch(lambda e: e.type == "task.started")
        await asyncio.wait_for(started, 120)
        servers.append(server.pid or 0)
        url, back = server.url, o.backbone.health.back()
        os.kill(server.pid or 0, signal.SIGKILL)
        await asyncio.wait_for(back, 30)  # reconnected: to the server started again
        servers.append(server.pid or 0)
        assert server.url == url and server.restarts == 1

    stored, printed = await restart(root, second, ["eve"], during=kill_the_bus)
    assert servers[0] != servers[1]
    assert_one_outcome_each(stored)
    [events] = by_request(stored).values()
    counts = Counter(e.type for e in events)
    # The approval's redelivery races nothing: approved once, never refused, each task dispatched once.
    assert counts["confirmation.given"] == 1 and counts["plan.approved"] == 1 and counts["confirmation.refused"] == 0
    assert counts["task.dispatched"] == 2 and counts["request.completed"] == 1 and counts["request.failed"] == 0
    assert printed["eve"].count("Done (request") == 1
    no_worktree_left(root)
