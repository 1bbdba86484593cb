"""Building events for tests: deterministic ids and times, sensible defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from claude_tunnels.events.conversation import (
    ConfirmationRequested,
    MessageReceived,
    PlanRevised,
    RequestOpened,
    Turn,
)
from claude_tunnels.events.execution import (
    PhaseStarted,
    RequestCompleted,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.planning import PlanApproved, PlanProposed, RouteDecided
from claude_tunnels.events.values import Plan, PlannedTask, TaskResult, Usage
from tests.clocks import ManualClock, SequentialIds

T0 = datetime(2026, 11, 21, 9, 30, 0, tzinfo=UTC)


class Events:
    """A small builder: `ev = Events(); ev.message("terminal:local", "hi")`."""

    def __init__(self, start: datetime = T0) -> None:
        self.clock = ManualClock(start)
        self.ids = SequentialIds(self.clock)

    def envelope(self, session_key: str, **extra: Any) -> dict[str, Any]:
        """The common fields, with the clock moved one second on."""
        self.clock.advance(1)
        return {"id": self.ids.new_id(), "at": self.clock.now(), "session_key": session_key, **extra}

    def message(self, session_key: str, text: str, sender: str = "terminal:alice", **kw: Any) -> MessageReceived:
        env = self.envelope(session_key, **kw)
        return MessageReceived(channel=session_key.split(":")[0], sender=sender, text=text, message_ref=env["id"], **env)

    def opened(
        self, session_key: str, request_id: str, text: str, requester: str = "terminal:alice", message_id: str = "m",
        history: Sequence[Turn] = (),
    ) -> RequestOpened:
        return RequestOpened(
            request_id=request_id, text=text, requester=requester, channel=session_key.split(":")[0],
            message_id=message_id, history=list(history), **self.envelope(session_key),
        )

    def routed(self, session_key: str, request_id: str, projects: list[str]) -> RouteDecided:
        return RouteDecided(request_id=request_id, projects=projects, method="explicit", **self.envelope(session_key))

    def proposed(self, session_key: str, request_id: str, plan: Plan, revision: int = 0) -> PlanProposed:
        return PlanProposed(
            request_id=request_id, plan=plan, revision=revision, usage=Usage(input_tokens=100, output_tokens=20, cost_usd=0.01),
            **self.envelope(session_key),
        )

    def revised(self, session_key: str, request_id: str, text: str, by: str = "terminal:alice") -> PlanRevised:
        return PlanRevised(request_id=request_id, by=by, text=text, message_id=f"M-{text[:8]}", **self.envelope(session_key))

    def asked(self, session_key: str, request_id: str, requester: str = "terminal:alice") -> ConfirmationRequested:
        env = self.envelope(session_key)
        return ConfirmationRequested(request_id=request_id, requester=requester, expires_at=env["at"], **env)

    def approved(self, session_key: str, request_id: str, by: str = "terminal:alice") -> PlanApproved:
        return PlanApproved(request_id=request_id, by=by, **self.envelope(session_key))

    def phase(self, session_key: str, request_id: str, phase: int, workspaces: list[str]) -> PhaseStarted:
        return PhaseStarted(request_id=request_id, phase=phase, workspaces=workspaces, **self.envelope(session_key))

    def dispatched(self, session_key: str, request_id: str, workspace: str, phase: int = 1) -> WorkspaceTaskDispatched:
        return WorkspaceTaskDispatched(
            request_id=request_id, task_id=f"{request_id}-{workspace}", workspace=workspace, phase=phase, task="do it",
            **self.envelope(session_key),
        )

    def started(self, session_key: str, request_id: str, workspace: str) -> WorkspaceTaskStarted:
        return WorkspaceTaskStarted(request_id=request_id, task_id=f"{request_id}-{workspace}", workspace=workspace, **self.envelope(session_key))

    def succeeded(self, session_key: str, request_id: str, workspace: str, summary: str = "done") -> WorkspaceTaskSucceeded:
        return WorkspaceTaskSucceeded(
            request_id=request_id, task_id=f"{request_id}-{workspace}", workspace=workspace,
            result=TaskResult(summary=summary, changed_files=["a.py"], test_result="pass", downstream_context="api v2"),
            usage=Usage(input_tokens=1000, output_tokens=200, cost_usd=0.02, num_turns=3),
            **self.envelope(session_key),
        )

    def failed(self, session_key: str, request_id: str, workspace: str, error: str = "boom") -> WorkspaceTaskFailed:
        return WorkspaceTaskFailed(request_id=request_id, task_id=f"{request_id}-{workspace}", workspace=workspace, error=error, **self.envelope(session_key))

    def completed(self, session_key: str, request_id: str, summary: str = "all done") -> RequestCompleted:
        return RequestCompleted(request_id=request_id, summary=summary, succeeded=1, **self.envelope(session_key))


def two_phase_plan() -> Plan:
    """shared/core first, then web/app which depends on it."""
    return Plan(
        label="upgrade core",
        tasks=[
            PlannedTask(workspace="shared/core", task="bump to v2"),
            PlannedTask(workspace="web/app", task="use v2", depends_on=["shared/core"]),
        ],
        phases=[["shared/core"], ["web/app"]],
    )
