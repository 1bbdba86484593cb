"""The planner (PO): tasks per workspace with dependencies, validated; or a direct answer.

Both get the request's own history (recorded on `request.opened`, as the router did): never the
session's whole conversation. The planner sees the routed projects and their neighbours in the
dependency graph (`actors.scope`), one line per workspace within `limits.planner_prompt_chars`,
and may plan for any of them. The agent call runs on the event loop; its answer comes back to the
planner as a message and is validated and recorded on the planner's own thread. A request a
restart caught while it was being planned (`request.resumed`, stage `planning`) is planned again.

An invalid plan goes back to the planner once, its prompt saying why it was refused; a second
invalid plan fails the request. Every call's cost counts in the request's (`plan.rejected`,
`plan.proposed`, and `request.failed` for a call that failed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from claude_tunnels.actors import prompts
from claude_tunnels.actors.agent_errors import AgentError
from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.budget import charged
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.once import request_end_id
from claude_tunnels.actors.plans import PLAN_SCHEMA, PlanInvalid, parse_draft, validate
from claude_tunnels.actors.ports import Consultation, Consulted
from claude_tunnels.actors.scope import PlanningScope, planning_scope
from claude_tunnels.actors.tree import Tree, TreeError
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import PlanRevised
from claude_tunnels.events.execution import RequestCompleted, RequestFailed, RequestResumed
from claude_tunnels.events.planning import DirectAnswerGiven, PlanProposed, PlanRejected, RouteDecided
from claude_tunnels.events.values import Usage
from claude_tunnels.projections.requests import RequestState


@dataclass(frozen=True)
class Planned:
    """The planner agent (or the direct answerer, when `tree` is None) answered or failed;
    `scope` is what it was shown (and may plan for)."""

    cause: AnyEvent
    request_id: str
    revision: int
    tree: Tree | None
    answer: Consulted | None = None
    error: str = ""
    scope: PlanningScope | None = None
    spent: Usage = Usage()
    """What a failed call cost (the CLI's report)."""
    retried: bool = False
    """Whether this answers the second call, made after the first plan was refused."""


class Planner(EventActor):
    """Reacts to `route.decided` and `plan.revised` with `plan.proposed`, or a direct answer, or a failure."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._in_flight: set[tuple[str, int]] = set()

    def handle(self, event: AnyEvent, seq: int) -> None:
        resumed = isinstance(event, RequestResumed) and event.stage == "planning"
        if not (isinstance(event, (RouteDecided, PlanRevised)) or resumed) or event.request_id is None:
            return
        request = self.ctx.requests.get(event.request_id)
        if request is None or request.status != "planning" or request.plan is not None and isinstance(event, RouteDecided):
            return
        key = (event.request_id, len(request.revisions))
        if key in self._in_flight:
            return
        if resumed and request.answer:  # answered directly before the restart: that answer ends it
            ended = {**self.ctx.envelope(event, request_id=request.request_id), "id": request_end_id(request.request_id, request.opened_at)}
            self.ctx.emit(RequestCompleted(**ended, summary=request.answer, usage=request.usage))
            return
        limits = self.ctx.settings.settings.limits
        limit = limits.max_message_chars
        tree: Tree | None = None
        scope: PlanningScope | None = None
        if request.projects:
            try:
                tree = self.ctx.tree.tree()
            except TreeError as err:
                self._fail(event, request, f"planning failed: {err}")
                return
            scope = planning_scope(tree, request.projects)
            consultation = self._planning(request, tree, scope)
        else:
            consultation = Consultation(role="direct", system=prompts.DIRECT_SYSTEM, prompt=prompts.direct_prompt(request.text, request.history, limit))
        self._in_flight.add(key)
        self._ask(Planned(event, request.request_id, len(request.revisions), tree, scope=scope), consultation)

    def _planning(self, request: RequestState, tree: Tree, scope: PlanningScope, refused: str = "") -> Consultation:
        limits = self.ctx.settings.settings.limits
        return Consultation(
            role="planner", system=prompts.PLANNER_SYSTEM, schema=PLAN_SCHEMA,
            prompt=prompts.planner_prompt(
                request.text, request.revisions, request.history, tree, scope, limits.max_message_chars,
                limits.planner_prompt_chars, refused=refused,
            ),
        )

    def _ask(self, asking: Planned, consultation: Consultation) -> None:
        """Consult on the loop; the answer (or the failure) comes back as `asking` filled in."""
        ref, advisors = self.actor_ref, self.ctx.advisors

        async def ask() -> None:
            try:
                ref.tell(replace(asking, answer=await advisors.consult(consultation)))
            except AgentError as err:
                ref.tell(replace(asking, error=str(err), spent=err.usage))

        self.ctx.start(ask(), name=f"plan {asking.request_id}")

    def on_message(self, message: object) -> None:
        if not isinstance(message, Planned):
            super().on_message(message)
            return
        request = self.ctx.requests.get(message.request_id)
        if request is None or request.status != "planning" or len(request.revisions) != message.revision:
            self._in_flight.discard((message.request_id, message.revision))
            return  # cancelled, revised again or settled meanwhile
        if message.tree is None:
            self._answered(message, request)
        else:
            scope = message.scope or planning_scope(message.tree, request.projects)
            self._planned(message, request, message.tree, scope)

    def _answered(self, message: Planned, request: RequestState) -> None:
        ctx, cause = self.ctx, message.cause
        self._in_flight.discard((message.request_id, message.revision))
        if message.answer is None:
            self._fail(cause, request, f"no answer: {message.error}", message.spent)
            return
        text = message.answer.text.strip() or "(no answer)"
        ctx.emit(DirectAnswerGiven(**ctx.envelope(cause, request_id=request.request_id), text=text, usage=message.answer.usage))
        ended = {**ctx.envelope(cause, request_id=request.request_id), "id": request_end_id(request.request_id, request.opened_at)}
        ctx.emit(RequestCompleted(**ended, summary=text, usage=request.usage + message.answer.usage))

    def _planned(self, message: Planned, request: RequestState, tree: Tree, scope: PlanningScope) -> None:
        ctx, cause = self.ctx, message.cause
        if message.answer is None:
            self._in_flight.discard((message.request_id, message.revision))
            self._fail(cause, request, f"planning failed: {message.error}", message.spent)
            return
        try:
            draft = parse_draft(message.answer.output)
            plan = validate(
                draft, tree, request.projects, neighbours=scope.neighbours, graph=scope.graph, offline=ctx.tree.offline,
            )
        except PlanInvalid as err:
            ctx.emit(PlanRejected(**ctx.envelope(cause, request_id=request.request_id), reason=str(err), usage=message.answer.usage))
            if not message.retried:
                # Once more, with the refusal in the prompt: a real model usually fixes a name or
                # a dependency when told which. Still in flight: a redelivery must not plan twice.
                self._ask(replace(message, answer=None, retried=True), self._planning(request, tree, scope, refused=str(err)))
                return
            self._in_flight.discard((message.request_id, message.revision))
            self._fail(cause, request, f"the plan is invalid (its second try too): {err}")
            return
        self._in_flight.discard((message.request_id, message.revision))
        ctx.emit(PlanProposed(**ctx.envelope(cause, request_id=request.request_id), plan=plan, revision=message.revision, usage=message.answer.usage))

    def _fail(self, cause: AnyEvent, request: RequestState, reason: str, spent: Usage | None = None) -> None:
        # What the failed call cost counts in the request's total (`request.failed` adds it).
        ended = {**self.ctx.envelope(cause, request_id=request.request_id), "id": request_end_id(request.request_id, request.opened_at)}
        self.ctx.emit(RequestFailed(**ended, stage="planning", reason=reason, usage=charged(spent)))
