"""The router: which projects a request is about (explicit names first, else a read-only agent)."""

from __future__ import annotations

from actors.base import EventActor
from actors.context import ActorContext
from events.catalogue import AnyEvent
from events.conversation import RequestOpened
from events.execution import RequestFailed
from events.planning import ClarificationNeeded, RouteDecided, RouteMethod
from tunnels.claude import AgentError
from tunnels.routing import RoutingInvalid, explicit_route
from tunnels.tree import TreeError


class Router(EventActor):
    """Reacts to `request.opened` with `route.decided`, `clarification.needed` or `request.failed`."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._in_flight: set[str] = set()

    def handle(self, event: AnyEvent, seq: int) -> None:
        if not isinstance(event, RequestOpened) or event.request_id is None:
            return
        request = self.ctx.requests.get(event.request_id)
        if request is None or request.status != "routing" or event.request_id in self._in_flight:
            return  # already routed (a redelivery) or being routed
        self._in_flight.add(event.request_id)
        self.ctx.start(self._route(event), name=f"route {event.request_id}")

    async def _route(self, opened: RequestOpened) -> None:
        ctx, request_id = self.ctx, opened.request_id or ""
        outcome: AnyEvent
        try:
            tree = ctx.services.tree()
            explicit = explicit_route(opened.text, tree)
            if explicit is not None:
                projects, workspaces = explicit
                method: RouteMethod = "explicit" if len(tree.projects) > 1 or workspaces else "single_project"
                outcome = RouteDecided(**ctx.envelope(opened, request_id=request_id), projects=projects, workspaces=workspaces, method=method)
            else:
                answered = await ctx.services.calls.route(opened.text, opened.history, tree)
                route = answered.value
                if route.clarification:
                    outcome = ClarificationNeeded(**ctx.envelope(opened, request_id=request_id), question=route.clarification, usage=answered.usage)
                else:
                    outcome = RouteDecided(**ctx.envelope(opened, request_id=request_id), projects=route.projects, method="agent", usage=answered.usage)
        except (AgentError, RoutingInvalid, TreeError) as err:
            # Never a silent fallback: a failed routing is reported, nothing else runs.
            outcome = RequestFailed(**ctx.envelope(opened, request_id=request_id), stage="routing", reason=f"routing failed: {err}")
        finally:
            self._in_flight.discard(request_id)
        current = ctx.requests.get(request_id)
        if current is not None and current.status == "routing":
            await ctx.recorder.append(outcome)
