"""Warm agents on the real CLI and the scripted model: a task's session is started before it is
due, never acts before approval, gets exactly its upstream context when due, and is ended (its
process gone) when its plan is revised or its request cancelled; a workspace whose settings run
commands at start is not warmed before approval."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

from claude_tunnels.events.conversation import ConfirmationRequested, PlanRevised
from claude_tunnels.events.execution import (
    RequestCancelled,
    RequestCompleted,
    RequestFailed,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.tunnels.warm_pool import WarmEntry, WarmPool
from tests.clocks import ManualClock
from tests.e2e.scenarios import hangs, plan, router
from tests.e2e.test_worktrees import git_init, writes
from tests.e2e.world import World, world
from tests.git.repos import run

WARM = {"max_warm_agents": 4}


def pool(w: World) -> WarmPool:
    return w.orchestrator.tasks.executors["local"].warm  # type: ignore[attr-defined,no-any-return]


async def started(w: World, workspaces: set[str]) -> dict[str, WarmEntry]:
    """Wait until exactly `workspaces` are warm and their CLIs have started; them by workspace."""
    entries = await asyncio.wait_for(pool(w).wait_for(lambda e: {x.task.workspace for x in e.values()} == workspaces), 60)
    for entry in entries.values():
        assert await asyncio.wait_for(entry.ready(), 60) is not None, entry
    return {entry.task.workspace: entry for entry in entries.values()}


def pids(entries: dict[str, WarmEntry]) -> list[int]:
    found = []
    for entry in entries.values():
        warmed = entry.starting.result()
        assert warmed is not None and warmed[1].pid is not None
        found.append(warmed[1].pid)
    return found


async def gone(processes: list[int]) -> bool:
    """Wait for the processes to end (they are ended, not left to time out); whether all did."""
    alive = [psutil.Process(pid) for pid in processes if psutil.pid_exists(pid)]
    _, still = await asyncio.to_thread(psutil.wait_procs, alive, timeout=30)
    return not [p for p in still if p.status() != psutil.STATUS_ZOMBIE]


def never_prompted(w: World, workspace: str) -> bool:
    """No model request carried the workspace's task (its prompt names it)."""
    return not [r for r in w.model.requests if f"Workspace: {workspace}\n" in r.messages_text()]


async def test_warm_sessions_wait_for_approval_then_get_exactly_their_upstream_context(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [
        router(["web-app", "api-service"], "move to v2"),
        plan("warm", ("web-app/backend", "pin v2", []), ("web-app/frontend", "use v2", ["web-app/backend"]),
             ("api-service", "pin v2", [])),
        writes("web-app/backend", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="BACKEND-PINNED-V2", claims=["requirements.txt"]),
        writes("web-app/frontend", {"package.json": '{"apiVersion": "2"}\n'}, summary="frontend on v2", claims=["package.json"]),
        writes("api-service", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="API-PINNED-V2", claims=["requirements.txt"]),
    ]})
    async with world(tmp_path, scenario, limits=WARM) as w:
        git_init(w.root / "web-app")  # a monorepo: frontend's worktree gets backend's branch merged in when due
        await w.ask("in web-app and api-service: move to v2", lambda e: isinstance(e, ConfirmationRequested))
        warm = await started(w, {"web-app/backend", "api-service"})  # phase 1's, while the plan waits

        # Started, and idle: no model call with a task's prompt, no tool, nothing in their folders.
        assert all(psutil.pid_exists(pid) for pid in pids(warm))
        assert never_prompted(w, "web-app/backend") and never_prompted(w, "api-service")
        assert not w.of_type(WorkspaceTaskStarted)
        backend = warm["web-app/backend"].starting.result()
        assert backend is not None and backend[0].worktree is not None
        assert run(backend[0].worktree.path, "status", "--porcelain").strip() == ""

        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and final.succeeded == 3, final
        assert pool(w).served == 3  # frontend's was warmed while phase 1 ran
        [frontend_call] = [r for r in w.model.requests_for("web-app/frontend") if r.turn == 0]
        prompt = frontend_call.messages_text()
        # Exactly its upstream context: backend's result, not api-service's (not upstream of it).
        assert prompt.count("BACKEND-PINNED-V2") == 1 and "API-PINNED-V2" not in prompt
        done = {e.workspace: e for e in w.of_type(WorkspaceTaskSucceeded)}  # type: ignore[attr-defined]
        facts = done["web-app/frontend"].facts  # type: ignore[attr-defined]
        # Its worktree, made before backend ran, had backend's branch merged in before the prompt.
        assert run(w.root / "web-app", "show", f"{facts.commit}:backend/requirements.txt") == "shared-lib==2.0.0\n"
        assert facts.start != facts.base
        assert not pool(w).warm()


async def test_warm_sessions_end_on_revision_and_on_cancel(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [
        plan("warm", ("web-app/backend", "pin v2", []), ("web-app/frontend", "use v2", ["web-app/backend"])),
        hangs("web-app/backend"),
    ]})
    async with world(tmp_path, scenario, limits=WARM) as w:
        await w.ask("in web-app: move to v2", lambda e: isinstance(e, ConfirmationRequested))
        first = pids(await started(w, {"web-app/backend"}))

        proposed_again = w.terminal.watch(lambda e: isinstance(e, ConfirmationRequested))
        await w.ask("also mention the changelog", lambda e: isinstance(e, PlanRevised))
        assert await gone(first)  # the revision ended the warm CLI
        await asyncio.wait_for(proposed_again, 120)
        again = pids(await started(w, {"web-app/backend"}))  # the new plan's phase 1

        running: Callable[[object], bool] = lambda e: isinstance(e, WorkspaceTaskStarted)
        await w.ask("yes", running)
        phase_two = pids(await started(w, {"web-app/frontend"}))  # warmed while phase 1 runs (it hangs)
        final = await w.run_to_end("cancel")
        assert isinstance(final, RequestCancelled), final
        assert await gone(again + phase_two)
        assert not pool(w).warm() and never_prompted(w, "web-app/frontend")


async def test_a_workspace_whose_settings_run_commands_at_start_is_not_warmed_before_approval(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [
        router(["web-app", "api-service"], "move to v2"),
        plan("warm", ("web-app/backend", "pin v2", []), ("api-service", "pin v2", [])),
        writes("web-app/backend", {"notes.txt": "v2\n"}, summary="backend done", claims=["notes.txt"]),
        writes("api-service", {"notes.txt": "v2\n"}, summary="api done", claims=["notes.txt"]),
    ]})
    async with world(tmp_path, scenario, limits=WARM) as w:
        hook = {"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "touch started-by-hook"}]}]}}
        (w.root / "api-service" / ".claude").mkdir(exist_ok=True)
        (w.root / "api-service" / ".claude" / "settings.json").write_text(json.dumps(hook))
        await w.ask("in web-app and api-service: move to v2", lambda e: isinstance(e, ConfirmationRequested))
        entries = await asyncio.wait_for(pool(w).wait_for(lambda e: len(e) == 2), 60)
        outcome = {e.task.workspace: await asyncio.wait_for(e.ready(), 60) for e in entries.values()}
        assert outcome["web-app/backend"] is not None and outcome["api-service"] is None
        assert not (w.root / "api-service" / "started-by-hook").exists()
        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and final.succeeded == 2, final


async def test_warm_sessions_end_when_the_approval_expires_and_at_shutdown(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [plan("warm", ("web-app/backend", "pin v2", []))]})
    clock = ManualClock(datetime.now(UTC))
    async with world(tmp_path, scenario, limits={**WARM, "approval_ttl_s": 900}, clock=clock) as w:
        git_init(w.root / "web-app")
        await w.ask("in web-app: move to v2", lambda e: isinstance(e, ConfirmationRequested))
        first = pids(await started(w, {"web-app/backend"}))
        expired = w.terminal.watch(lambda e: isinstance(e, RequestFailed))
        clock.advance(900)
        await asyncio.wait_for(expired, 60)
        assert await gone(first)

        await w.ask("in web-app: move to v2 again", lambda e: isinstance(e, ConfirmationRequested))
        second = pids(await started(w, {"web-app/backend"}))
        worktrees = w.root / ".tunnels" / "worktrees"
        assert any(worktrees.rglob("*"))
    assert await gone(second)  # the orchestrator stopped: no session it started is left
    assert not [p for p in worktrees.rglob("*") if p.is_dir() and p.name.endswith("-1")]
    assert never_prompted(w, "web-app/backend")
