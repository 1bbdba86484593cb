"""What a child orchestrator passes up about its request: its children's lines, nested; its branches."""

from __future__ import annotations

from datetime import UTC, datetime

from claude_tunnels.events.execution import RequestCompleted, WorkspaceProgress
from claude_tunnels.events.values import TaskFacts, TaskResult
from claude_tunnels.projections.requests import RequestState, TaskState
from claude_tunnels.remote_agent.delegated import nested_line, result_of

AT = datetime(2026, 12, 5, 12, tzinfo=UTC)


def state() -> RequestState:
    tasks = {
        "kr/sub": TaskState(workspace="kr/sub", task="t", phase=1, task_id="r-1", status="running", child_request_id="grand-1"),
        "backend/api": TaskState(
            workspace="backend/api", task="t", phase=1, task_id="r-2", status="succeeded",
            result=TaskResult(summary="api done", test_result="pass"),
            facts=TaskFacts(repo="backend/api", branch="tunnels/r-backend-api", commit="1a2b3c4d5e6f7a8b"),
        ),
    }
    return RequestState(request_id="r", session_key="parent:t", text="x", requester="parent:a", channel="parent", opened_at=AT, tasks=tasks)


def progress(task_id: str, workspace: str, detail: str) -> WorkspaceProgress:
    return WorkspaceProgress(id="e", at=AT, session_key="parent:t", request_id="r", task_id=task_id, workspace=workspace, kind="text", detail=detail)


def test_a_grandchilds_lines_go_up_indented_and_named_and_an_agents_progress_stays() -> None:
    assert nested_line(progress("r-1", "kr/sub", "phase 1: deep/one"), state()) == "  kr/sub: phase 1: deep/one"
    # Its own lines, already indented one level, go up one more.
    assert nested_line(progress("r-1", "kr/sub", "  deep/x: started"), state()) == "    kr/sub: deep/x: started"
    assert nested_line(progress("r-2", "backend/api", "Bash ls"), state()) is None  # an agent's tool use is not passed up


def test_a_succeeded_childs_result_names_its_branches_waiting_at_the_child() -> None:
    completed = RequestCompleted(id="c", at=AT, session_key="parent:t", request_id="r", summary="all done", succeeded=2)
    result = result_of("r", state(), completed, "kr/product")
    assert "request r: all done" in result.summary and "backend/api: succeeded (api done)" in result.summary
    assert "changes:\nbackend/api: repo backend/api, branch tunnels/r-backend-api at 1a2b3c4d5e6f (waiting for a decision at kr/product)" in result.summary
