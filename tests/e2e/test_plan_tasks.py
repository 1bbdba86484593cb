"""Tasks, not workspaces, are the unit of a plan (the real CLI against the scripted model, real
git repositories, real NATS): the shared library's two tasks, "release v2" and, once its two
users are updated in parallel, "run the whole suite" with both users' results upstream. Each task
gets a branch of its own holding exactly its changes (the library's second one built on its first),
the request branch merges them in phase order, and the plan message, the answer and the task log
name both tasks of the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import PhaseStarted, RequestCompleted, WorkspaceTaskDispatched, WorkspaceTaskSucceeded
from claude_tunnels.events.planning import PlanProposed
from tests.e2e.scenarios import router
from tests.e2e.test_request_branches import until
from tests.e2e.test_worktrees import git_init, writes
from tests.e2e.world import world
from tests.git.repos import run

RELEASE = "release version 2.0.0 of the library"
SUITE = "run the whole suite against both users"


def task_script(name: str, workspace: str, needle: str, files: dict[str, str], summary: str) -> dict[str, Any]:
    """A workspace script for the task whose text holds `needle` (a workspace may have two)."""
    script = writes(workspace, files, summary=summary, claims=list(files))
    script["name"], script["match"] = name, [*script["match"], needle]
    return script


async def test_a_library_released_then_its_users_updated_then_its_suite_run_each_task_on_its_branch(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [
        router(["shared-lib", "web-app", "api-service"], "move everything to v2"),
        {"name": "planner-v2", "match": ["Plan the workspace tasks."], "turns": [{"structured_output": {"label": "v2", "tasks": [
            {"id": "t1", "workspace": "shared-lib/core", "task": RELEASE},
            {"id": "t2", "workspace": "web-app/backend", "task": "pin the library at 2.0.0", "depends_on": ["t1"]},
            {"id": "t3", "workspace": "api-service", "task": "pin the library at 2.0.0 here too", "depends_on": ["t1"]},
            # A lenient model may name a workspace that has one task: api-service is t3.
            {"id": "t4", "workspace": "shared-lib/core", "task": SUITE, "depends_on": ["t2", "api-service"]},
        ]}}]},
        task_script("lib-release", "shared-lib/core", RELEASE, {"VERSION": "2.0.0\n"}, "released 2.0.0"),
        task_script("backend", "web-app/backend", "pin the library", {"requirements.txt": "shared-lib==2.0.0\n"}, "backend pins 2.0.0"),
        task_script("api", "api-service", "pin the library", {"requirements.txt": "shared-lib==2.0.0\n"}, "api pins 2.0.0"),
        task_script("lib-suite", "shared-lib/core", SUITE, {"SUITE.txt": "both users pass\n"}, "the suite passes with both users"),
    ]})
    async with world(tmp_path, scenario) as w:
        lib, web, api = w.root / "shared-lib", w.root / "web-app", w.root / "api-service"
        for repo in (lib, web, api):
            git_init(repo)
        base = run(lib, "rev-parse", "HEAD").strip()
        await w.ask("in shared-lib, web-app and api-service: move everything to v2", lambda e: isinstance(e, ConfirmationRequested))
        [proposed] = w.of_type(PlanProposed)
        plan = proposed.plan  # type: ignore[attr-defined]
        assert plan.phases == [["t1"], ["t3", "t2"], ["t4"]]
        assert plan.task_for("t4").depends_on == ["t2", "t3"]
        shown = w.out.getvalue()
        assert f"  • shared-lib/core [t1]: {RELEASE}" in shown
        assert f"  • shared-lib/core [t4] (after t2, t3): {SUITE}" in shown

        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and (final.succeeded, final.failed) == (4, 0), final
        started = [e.workspaces for e in w.of_type(PhaseStarted)]  # type: ignore[attr-defined]
        assert started == [["shared-lib/core [t1]"], ["api-service [t3]", "web-app/backend [t2]"], ["shared-lib/core [t4]"]]
        assert "✓ shared-lib/core [t1]: released 2.0.0" in final.summary and "✓ shared-lib/core [t4]: the suite passes" in final.summary

        # Both users' results reach the suite's agent.
        asked = w.model.requests_for("lib-suite")[0]  # its first turn
        assert "backend pins 2.0.0" in asked.task_text and "api pins 2.0.0" in asked.task_text
        dispatched = {e.task: e for e in w.of_type(WorkspaceTaskDispatched)}  # type: ignore[attr-defined]
        assert dispatched[SUITE].upstream == ["t2", "t3"]

        # Each task on its own branch, holding exactly its changes; the second of the library
        # starts from the first (its upstream two steps up, in the same repository).
        done = {e.task_id: e.facts for e in w.of_type(WorkspaceTaskSucceeded)}  # type: ignore[attr-defined]
        release, suite = done[dispatched[RELEASE].task_id], done[dispatched[SUITE].task_id]
        rid = final.request_id.lower()
        assert (release.branch, suite.branch) == (f"tunnels/{rid}/shared-lib/core", f"tunnels/{rid}/shared-lib/core-2")
        assert run(lib, "diff", "--name-only", f"{base}..{release.branch}").split() == ["core/VERSION"]
        assert run(lib, "merge-base", suite.start, release.commit).strip() == release.commit  # the suite's start holds the release
        assert run(lib, "diff", "--name-only", f"{suite.start}..{suite.branch}").split() == ["core/SUITE.txt"]
        assert [f.path for f in suite.files] == ["core/SUITE.txt"] and [f.path for f in release.files] == ["core/VERSION"]

        # The request branch of the library merges both, in phase order.
        result = f"tunnels/{rid}-result"
        await until(w, lambda e: type(e).__name__ == "ChangesProposed")
        assert sorted(run(lib, "diff", "--name-only", f"{base}..{result}").split()) == ["core/SUITE.txt", "core/VERSION"]

        log = w.orchestrator.task_log.path_of(final.request_id)
        assert log is not None
        text = log.read_text()
        assert f"- `shared-lib/core [t1]`: {RELEASE}" in text and f"- `shared-lib/core [t4]` (after t2, t3): {SUITE}" in text
        assert "### shared-lib/core [t1] (phase 1): succeeded" in text and "### shared-lib/core [t4] (phase 3): succeeded" in text
