"""The planner (PO): tasks per workspace with dependencies, validated; or a direct answer.

Both get the request's own history (recorded on `request.opened`, as the router did): never the
session's whole conversation.
"""

from __future__ import annotations

from actors.base import EventActor
from actors.context import ActorContext
from events.catalogue import AnyEvent
from events.conversation import PlanRevised
from events.execution import RequestCompleted, RequestFailed
from events.planning import DirectAnswerGiven, PlanProposed, PlanRejected, RouteDecided
from projections.requests import RequestState
from tunnels.claude import AgentError
from tunnels.plans import PlanInvalid
from tunnels.tree import TreeError


class Planner(EventActor):
    """Reacts to `route.decided` and `plan.revised` with `plan.proposed`, or a direct answer, or a failure."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._in_flight: set[tuple[str, int]] = set()

    def handle(self, event: AnyEvent, seq: int) -> None:
        if not isinstance(event, (RouteDecided, PlanRevised)) or event.request_id is None:
            return
        request = self.ctx.requests.get(event.request_id)
        if request is None or request.status != "planning" or request.plan is not None and isinstance(event, RouteDecided):
            return
        key = (event.request_id, len(request.revisions))
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        work = self._direct(event, request) if not request.projects else self._plan(event, request)
        self.ctx.start(work, name=f"plan {event.request_id}")

    async def _direct(self, cause: AnyEvent, request: RequestState) -> None:
        ctx = self.ctx
        try:
            answered = await ctx.services.calls.direct(request.text, request.history)
        except AgentError as err:
            await ctx.recorder.append(RequestFailed(**ctx.envelope(cause, request_id=request.request_id), stage="planning", reason=f"no answer: {err}"))
            return
        await ctx.recorder.append(DirectAnswerGiven(**ctx.envelope(cause, request_id=request.request_id), text=answered.value, usage=answered.usage))
        await ctx.recorder.append(RequestCompleted(**ctx.envelope(cause, request_id=request.request_id), summary=answered.value, usage=request.usage + answered.usage))

    async def _plan(self, cause: AnyEvent, request: RequestState) -> None:
        ctx = self.ctx
        revision = len(request.revisions)
        try:
            tree = ctx.services.tree()
            answered = await ctx.services.calls.plan(request.text, request.revisions, request.history, tree, request.projects)
            envelope = ctx.envelope(cause, request_id=request.request_id)
            outcome: list[AnyEvent] = [PlanProposed(**envelope, plan=answered.value, revision=revision, usage=answered.usage)]
        except PlanInvalid as err:
            outcome = [
                PlanRejected(**ctx.envelope(cause, request_id=request.request_id), reason=str(err)),
                RequestFailed(**ctx.envelope(cause, request_id=request.request_id), stage="planning", reason=f"the plan is invalid: {err}"),
            ]
        except (AgentError, TreeError) as err:
            outcome = [RequestFailed(**ctx.envelope(cause, request_id=request.request_id), stage="planning", reason=f"planning failed: {err}")]
        finally:
            self._in_flight.discard((request.request_id, revision))
        current = ctx.requests.get(request.request_id)
        if current is not None and current.status == "planning" and len(current.revisions) == revision:
            for event in outcome:
                await ctx.recorder.append(event)
