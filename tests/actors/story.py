"""The events of one request's life, to give the tables their starting state, and how rows
name the events they expect.

A `Story` builds events with the world's clock and ids (each a second after the last), for one
request (`R1`) of one conversation, so a table row can say "a plan is waiting for approval" as
`"awaiting_approval"` and get the events that lead there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from claude_tunnels.actors.confirm_policy import approvers_for
from claude_tunnels.actors.plans import layers
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import (
    Action,
    CancelRequested,
    ConfirmationAnswered,
    ConfirmationGiven,
    ConfirmationRequested,
    MessageQueued,
    MessageReceived,
    PermissionAnswered,
    PlanRevised,
    RequestOpened,
)
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestResumed,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import ClarificationNeeded, PlanApproved, PlanProposed, RouteDecided
from claude_tunnels.events.values import Plan, PlannedTask, TaskResult, Usage
from tests.actors.harness import ALICE, BOB, World

SESSION = "slack:C1"
REQUEST = "R1"
QUESTION = "P1"
TEXT = "move shared-lib/core to v2 and use it in web-app/backend"


def plan_of(*tasks: tuple[str, list[str]], label: str = "upgrade") -> Plan:
    """A plan of (workspace, depends_on) tasks, phased as the planner's validation phases it."""
    planned = [PlannedTask(workspace=w, task=f"work on {w}", depends_on=deps) for w, deps in tasks]
    return Plan(label=label, tasks=planned, phases=layers(planned))


TWO_STEPS = plan_of(("shared-lib/core", []), ("web-app/backend", ["shared-lib/core"]))
"""core first, then backend, which depends on it."""

Stage = Literal[
    "idle", "routing", "planning", "clarifying", "awaiting_approval", "revising", "executing", "question", "answered",
    "queued", "ended", "ended_long_ago",
]


@dataclass
class Story:
    """Request `R1` of conversation `slack:C1`, asked by ALICE, planned as `plan`."""

    world: World
    plan: Plan = TWO_STEPS
    request_id: str = REQUEST
    session_key: str = SESSION
    requester: str = ALICE
    projects: list[str] = field(default_factory=lambda: ["shared-lib", "web-app"])

    def _env(self, **extra: Any) -> dict[str, Any]:
        self.world.clock.advance(1)
        return {"id": self.world.ids.new_id(), "at": self.world.clock.now(), "session_key": self.session_key, **extra}

    def last(self, type_: str) -> AnyEvent:
        """The last event of `type_` the world stored (to deliver it again: a redelivery)."""
        return [event for event in self.world.log.events if event.type == type_][-1]

    def _req(self) -> dict[str, Any]:
        return self._env(request_id=self.request_id)

    def task_id(self, workspace: str) -> str:
        """The id the supervisor gives the task of `workspace`."""
        return f"{self.request_id}-{[t.workspace for t in self.plan.tasks].index(workspace) + 1}"

    def after(self, seconds: float, then: Callable[[], object]) -> object:
        """`then()`, made once the clock has moved `seconds` on."""
        self.world.clock.advance(seconds)
        return then()

    # -- what people say -------------------------------------------------------------------

    def message(
        self, text: str, sender: str = ALICE, *, action: Action | None = None,
        request_id: str | None = None, permission_id: str | None = None, repo: str | None = None,
    ) -> MessageReceived:
        env = self._env(request_id=request_id)
        return MessageReceived(
            channel=self.session_key.split(":")[0], sender=sender, text=text, message_ref=env["id"], action=action,
            permission_id=permission_id, repo=repo, **env,
        )

    def opened(self, text: str = TEXT) -> RequestOpened:
        return RequestOpened(text=text, requester=self.requester, channel="slack", message_id="M0", **self._req())

    def queued(self, text: str, sender: str, message_id: str = "M9") -> MessageQueued:
        return MessageQueued(message_id=message_id, text=text, sender=sender, **self._req())

    def answered(self, by: str, answer: Literal["approve", "cancel"]) -> ConfirmationAnswered:
        return ConfirmationAnswered(by=by, answer=answer, message_id="M1", **self._req())

    def revised(self, by: str, text: str) -> PlanRevised:
        return PlanRevised(by=by, text=text, message_id="M2", **self._req())

    def cancel(self, by: str) -> CancelRequested:
        return CancelRequested(by=by, **self._req())

    def permission_answered(self, by: str, allowed: bool, permission_id: str = QUESTION) -> PermissionAnswered:
        return PermissionAnswered(permission_id=permission_id, by=by, allowed=allowed, message_id="M3", **self._req())

    # -- what the orchestrator did ---------------------------------------------------------

    def routed(self, projects: list[str] | None = None, cost_usd: float = 0.001) -> RouteDecided:
        chosen = self.projects if projects is None else projects
        return RouteDecided(projects=chosen, method="explicit", usage=Usage(cost_usd=cost_usd), **self._req())

    def clarification(self, question: str = "Which app do you mean?") -> ClarificationNeeded:
        return ClarificationNeeded(question=question, **self._req())

    def proposed(self, revision: int = 0, cost_usd: float = 0.01) -> PlanProposed:
        return PlanProposed(plan=self.plan, revision=revision, usage=Usage(cost_usd=cost_usd), **self._req())

    def asked(self, ttl_s: float = 1800) -> ConfirmationRequested:
        env = self._req()
        approvers = approvers_for(self.requester, self.world.loaded.settings.approvers)
        return ConfirmationRequested(
            requester=self.requester, approvers=approvers, expires_at=env["at"] + timedelta(seconds=ttl_s), **env,
        )

    def approved(self, by: str = ALICE) -> PlanApproved:
        return PlanApproved(by=by, **self._req())

    def phase_started(self, phase: int) -> PhaseStarted:
        return PhaseStarted(phase=phase, workspaces=self.plan.phases[phase - 1], **self._req())

    def dispatched(self, workspace: str, phase: int = 1, attempt: int = 1) -> WorkspaceTaskDispatched:
        return WorkspaceTaskDispatched(
            task_id=self.task_id(workspace), workspace=workspace, phase=phase, task=f"work on {workspace}", attempt=attempt,
            **self._req(),
        )

    def started(self, workspace: str) -> WorkspaceTaskStarted:
        return WorkspaceTaskStarted(task_id=self.task_id(workspace), workspace=workspace, agent="local", **self._req())

    def resumed(self, rerun: str) -> RequestResumed:
        """A restart took the request up and ran `rerun`'s task again (its new dispatch may not follow)."""
        return RequestResumed(stage="execution", rerun=[rerun], **self._req())

    def question(self, workspace: str, permission_id: str = QUESTION, expires_in_s: float = 300) -> PermissionRequested:
        env = self._req()
        return PermissionRequested(
            task_id=self.task_id(workspace), workspace=workspace, tool="Bash", detail="curl https://example.com",
            permission_id=permission_id, reason="network access", expires_at=env["at"] + timedelta(seconds=expires_in_s),
            approvers=[self.requester], **env,
        )

    def decided(self, workspace: str, allowed: bool, by: str, permission_id: str = QUESTION) -> PermissionDecided:
        return PermissionDecided(
            task_id=self.task_id(workspace), workspace=workspace, tool="Bash", allowed=allowed, reason="answered", by=by,
            permission_id=permission_id, **self._req(),
        )

    def succeeded(self, workspace: str, cost_usd: float = 0.02) -> WorkspaceTaskSucceeded:
        return WorkspaceTaskSucceeded(
            task_id=self.task_id(workspace), workspace=workspace, result=TaskResult(summary=f"{workspace} done"),
            usage=Usage(cost_usd=cost_usd), **self._req(),
        )

    def failed(self, workspace: str, cost_usd: float = 0.02) -> WorkspaceTaskFailed:
        return WorkspaceTaskFailed(
            task_id=self.task_id(workspace), workspace=workspace, error="tests fail", usage=Usage(cost_usd=cost_usd), **self._req(),
        )

    def timed_out(self, workspace: str) -> WorkspaceTaskTimedOut:
        return WorkspaceTaskTimedOut(task_id=self.task_id(workspace), workspace=workspace, timeout_s=1800, **self._req())

    def cancelled(self, workspace: str) -> WorkspaceTaskCancelled:
        return WorkspaceTaskCancelled(task_id=self.task_id(workspace), workspace=workspace, reason="cancelled by a person", **self._req())

    def request_cancelled(self, by: str) -> RequestCancelled:
        return RequestCancelled(by=by, **self._req())

    def completed(self, summary: str = "1 of 1 workspace tasks succeeded.") -> RequestCompleted:
        return RequestCompleted(summary=summary, succeeded=1, **self._req())

    # -- how far the request got -----------------------------------------------------------

    def up_to(self, stage: Stage) -> list[AnyEvent]:
        """The events that bring the conversation and its request to `stage`."""
        first = self.plan.phases[0][0]
        steps: dict[str, Callable[[], list[AnyEvent]]] = {
            "idle": lambda: [],
            "routing": lambda: [self.opened()],
            "planning": lambda: [*self.up_to("routing"), self.routed()],
            "clarifying": lambda: [*self.up_to("routing"), self.clarification()],
            "awaiting_approval": lambda: [*self.up_to("planning"), self.proposed(), self.asked()],
            "revising": lambda: [*self.up_to("awaiting_approval"), self.revised(ALICE, "use the v3 API instead")],
            "executing": lambda: [
                *self.up_to("awaiting_approval"), ConfirmationGiven(by=ALICE, **self._req()), self.approved(),
                self.phase_started(1),
                *[self.dispatched(w) for w in self.plan.phases[0]],
                WorkspaceTaskStarted(task_id=self.task_id(first), workspace=first, **self._req()),
            ],
            "question": lambda: [*self.up_to("executing"), self.question(first)],
            "answered": lambda: [*self.up_to("question"), self.decided(first, True, ALICE)],
            "queued": lambda: [*self.up_to("executing"), self.queued("and then update the docs", BOB)],
            "ended": lambda: [*self.up_to("executing"), self.succeeded(first), self.completed()],
            "ended_long_ago": lambda: [*self.up_to("ended"), *self._quiet(3600)],
        }
        return steps[stage]()

    def _quiet(self, seconds: float) -> list[AnyEvent]:
        self.world.clock.advance(seconds)
        return []


# -- what a row expects ----------------------------------------------------------------------


class Has:
    """Matches any text that contains `part`."""

    def __init__(self, part: str) -> None:
        self.part = part

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.part in other

    def __repr__(self) -> str:
        return f"Has({self.part!r})"


@dataclass
class Out:
    """An expected event: its type and the fields that matter to the row."""

    type: str
    fields: dict[str, object] = field(default_factory=dict)


def out(type_: str, **fields: object) -> Out:
    """`out("notice.issued", level="warning", text=Has("Only"))`."""
    return Out(type_, fields)


def shape(events: list[AnyEvent], expected: list[Out]) -> list[Out]:
    """`events` as `Out`s with the fields `expected` names at the same place, to compare with it."""
    names = [list(e.fields) for e in expected] + [[]] * len(events)
    return [Out(event.type, {name: getattr(event, name, "<missing>") for name in names[i]}) for i, event in enumerate(events)]
