"""Events of routing and planning a request (request subjects)."""

from __future__ import annotations

from typing import Literal

from claude_tunnels.events.base import RequestEvent
from claude_tunnels.events.values import Plan, Usage

RouteMethod = Literal["explicit", "single_project", "agent"]


class RouteDecided(RequestEvent, frozen=True, kw_only=True, tag="route.decided"):
    """The router named the projects (and any explicitly named workspaces) the request is about; none = a direct answer."""

    projects: list[str]
    workspaces: list[str] = []
    method: RouteMethod
    usage: Usage | None = None


class ClarificationNeeded(RequestEvent, frozen=True, kw_only=True, tag="clarification.needed"):
    """The router could not tell what was meant and asks the person a question."""

    question: str
    usage: Usage | None = None


class DirectAnswerGiven(RequestEvent, frozen=True, kw_only=True, tag="answer.direct"):
    """A request that needs no workspace was answered by a read-only agent."""

    text: str
    usage: Usage | None = None


class PlanProposed(RequestEvent, frozen=True, kw_only=True, tag="plan.proposed"):
    """The planner proposed a validated plan: tasks per workspace, phases from their dependencies."""

    plan: Plan
    revision: int = 0
    usage: Usage | None = None


class PlanApproved(RequestEvent, frozen=True, kw_only=True, tag="plan.approved"):
    """The plan may run (approved by `by`, or automatically for a trusted channel)."""

    by: str
    auto: bool = False


class PlanRejected(RequestEvent, frozen=True, kw_only=True, tag="plan.rejected"):
    """The planner's answer was invalid (unknown workspace, cycle, sensitive name...); it is not run."""

    reason: str
    usage: Usage | None = None
