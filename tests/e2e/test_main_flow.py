"""The main job end to end through the real CLI and the scripted model."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import PhaseStarted, RequestCompleted, WorkspaceTaskSucceeded
from claude_tunnels.tunnels.commands.events import request_timeline
from claude_tunnels.tunnels.demo.run import REQUEST, demo_scenario_text
from claude_tunnels.tunnels.demo.sample_tree import FILES, snapshot
from tests.e2e.world import world

OWNERS = {  # every changed file must lie in the workspace whose task changed it
    "shared-lib/core": "shared-lib/core/", "shared-lib/docs": "shared-lib/docs/",
    "web-app/backend": "web-app/backend/", "web-app/frontend": "web-app/frontend/", "api-service": "api-service/",
}


async def test_request_plan_approval_three_phases_and_answer(tmp_path: Path) -> None:
    async with world(tmp_path, demo_scenario_text()) as w:
        before = snapshot(w.root)
        asked = await w.ask(REQUEST, lambda e: isinstance(e, ConfirmationRequested))
        assert asked.requester == "terminal:alice"  # type: ignore[union-attr]
        final = await w.run_to_end("Yes!")
        assert isinstance(final, RequestCompleted), final
        assert (final.succeeded, final.failed, final.skipped) == (5, 0, 0)
        assert final.usage.cost_usd > 0 and "5 of 5 workspace tasks succeeded" in final.summary

        phases = [e.workspaces for e in w.of_type(PhaseStarted)]  # type: ignore[attr-defined]
        assert phases == [["shared-lib/core"], ["api-service", "shared-lib/docs", "web-app/backend"], ["web-app/frontend"]]

        # Files really changed, each only inside its own workspace.
        after = snapshot(w.root)
        changed = {path for path in after if before.get(path) != after[path] and not path.startswith(".")}
        assert changed == {
            "shared-lib/core/VERSION", "shared-lib/core/shared_core.py", "shared-lib/core/test_shared_core.py",
            "shared-lib/docs/CHANGELOG.md", "web-app/backend/requirements.txt", "api-service/requirements.txt",
            "web-app/frontend/package.json",
        }
        assert after["shared-lib/core/VERSION"] == "2.0.0\n"
        for event in w.of_type(WorkspaceTaskSucceeded):
            for name in event.result.changed_files:  # type: ignore[attr-defined]
                assert (OWNERS[event.workspace] + name) in changed  # type: ignore[attr-defined]
        assert set(FILES) <= set(after)

        # The planner got one line per workspace and the graph, and read a CLAUDE.md with its own tools.
        first, second = w.model.requests_for("planner")[:2]
        assert "- shared-lib/core: The library code." in first.task_text
        assert "api-service -> shared-lib/core" in first.task_text and "web-app/backend -> shared-lib/core" in first.task_text
        assert "The library code. Version in VERSION." in second.messages_text()  # the Read tool's result

        # Phase-2 tasks got phase-1 results (as marked, untrusted data) in what the model saw.
        [backend] = w.model.requests_for("backend")[:1]
        assert "Require shared-lib==2.0.0" in backend.task_text and "<upstream_result" in backend.task_text
        [frontend] = w.model.requests_for("frontend")[:1]
        assert "The backend API is now version 2" in frontend.task_text
        assert "Require shared-lib==2.0.0" not in frontend.task_text  # only its own dependencies

        # The task log was written by the projection; the replay has the whole timeline.
        log = w.orchestrator.task_log.path_of(final.request_id)
        assert log is not None and log.is_file()
        text = log.read_text()
        assert "**completed**" in text and "frontend talks to API version 2." in text
        timeline = [s.event.type for s in await request_timeline(w.orchestrator.store, final.request_id)]
        assert timeline[:3] == ["message.received", "request.opened", "route.decided"]
        for kind in ["plan.proposed", "confirmation.requested", "confirmation.given", "plan.approved", "phase.started",
                     "task.dispatched", "task.started", "task.progress", "task.succeeded", "phase.completed"]:
            assert kind in timeline
        assert timeline[-1] == "request.completed" and timeline.count("phase.completed") == 3
