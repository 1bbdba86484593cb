"""The router: which projects a request is about, decided by a read-only agent that sees every
project (one line each) with the ones the message names marked as hints (`actors.routing`).

The agent call runs on the event loop; its answer comes back to the router as a message and is
checked and recorded on the router's own thread, like every other decision of the actor. A
request a restart caught while it was being routed (`request.resumed`, stage `routing`) is
routed again from its recorded text and history. What
every call cost counts in the request's cost, its answer used or not: a failed routing's too.
"""

from __future__ import annotations

from dataclasses import dataclass

from claude_tunnels.actors import prompts
from claude_tunnels.actors.agent_errors import AgentError
from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.budget import charged
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.once import request_end_id
from claude_tunnels.actors.ports import Consultation, Consulted
from claude_tunnels.actors.routing import ROUTE_SCHEMA, RoutingInvalid, UnknownProjects, named_in, parse_answer, settled_route
from claude_tunnels.actors.tree import Tree, TreeError
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import RequestOpened, Turn
from claude_tunnels.events.execution import RequestFailed, RequestResumed
from claude_tunnels.events.planning import ClarificationNeeded, RouteDecided, RouteMethod
from claude_tunnels.events.values import Usage


@dataclass(frozen=True)
class Routed:
    """The router agent answered (or failed) for the request of `opened` (its `request.opened`, or
    the `request.resumed` that routes it again), whose tree was `tree`."""

    opened: RequestOpened | RequestResumed
    tree: Tree
    text: str
    """The person's words the request is routed on."""
    answer: Consulted | None = None
    error: str = ""
    spent: Usage | None = None
    """What a failed call cost (the CLI's report), when it failed."""


class Router(EventActor):
    """Reacts to `request.opened` with `route.decided`, `clarification.needed` or `request.failed`."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._in_flight: set[str] = set()

    def handle(self, event: AnyEvent, seq: int) -> None:
        text: str
        history: list[Turn]
        match event:
            case RequestOpened() if event.request_id is not None:
                text, history = event.text, list(event.history)
            case RequestResumed(stage="routing"):
                state = self.ctx.requests.get(event.request_id)
                if state is None:
                    return
                text, history = state.text, list(state.history)
            case _:
                return
        request_id = event.request_id or ""
        request = self.ctx.requests.get(request_id)
        if request is None or request.status != "routing" or request_id in self._in_flight:
            return  # already routed (a redelivery) or being routed
        try:
            # Once per request, on the router's thread: a folder added or a CLAUDE.md edited since
            # the last request is seen now; the rest of the request reads the tree kept here.
            tree = self.ctx.tree.fresh()
        except TreeError as err:
            self._fail(event, str(err))
            return
        settled = settled_route(text, tree)
        if settled is not None:
            projects, workspaces = settled
            method: RouteMethod = "single_project" if len(tree.projects) == 1 else "explicit"
            self.ctx.emit(RouteDecided(**self.ctx.envelope(event, request_id=request_id), projects=projects, workspaces=workspaces, method=method))
            return
        self._in_flight.add(request_id)
        limits = self.ctx.settings.settings.limits
        named = named_in(text, tree)  # the person's words only: never the bot's own question
        consultation = Consultation(
            role="router", system=prompts.ROUTER_SYSTEM, schema=ROUTE_SCHEMA,
            prompt=prompts.router_prompt(
                text, history, tree, limits.max_message_chars, limits.router_prompt_chars, named=named.projects,
            ),
        )
        ref, advisors = self.actor_ref, self.ctx.advisors

        async def ask() -> None:
            try:
                ref.tell(Routed(event, tree, text, answer=await advisors.consult(consultation)))
            except AgentError as err:
                ref.tell(Routed(event, tree, text, error=str(err), spent=err.usage))

        self.ctx.start(ask(), name=f"route {request_id}")

    def on_message(self, message: object) -> None:
        if not isinstance(message, Routed):
            super().on_message(message)
            return
        opened, request_id = message.opened, message.opened.request_id or ""
        self._in_flight.discard(request_id)
        current = self.ctx.requests.get(request_id)
        if current is None or current.status != "routing":
            return  # cancelled or settled meanwhile
        if message.answer is None:
            self._fail(opened, message.error, message.spent)
            return
        usage = message.answer.usage
        envelope = self.ctx.envelope(opened, request_id=request_id)
        outcome: Event
        try:
            route = parse_answer(message.answer.output, message.tree)
        except UnknownProjects as err:
            # A name that is no project here is asked about, with the closest ones: the person
            # answers, and that answer is routed.
            self.ctx.emit(ClarificationNeeded(**envelope, question=err.question, usage=usage))
            return
        except RoutingInvalid as err:
            self._fail(opened, str(err), usage)
            return
        if route.clarification:
            outcome = ClarificationNeeded(**envelope, question=route.clarification, usage=usage)
        else:
            named = named_in(message.text, message.tree).workspaces
            workspaces = [w for w in named if w.split("/", 1)[0] in route.projects]
            outcome = RouteDecided(**envelope, projects=route.projects, workspaces=workspaces, method="agent", usage=usage)
        self.ctx.emit(outcome)

    def _fail(self, opened: RequestOpened | RequestResumed, why: str, spent: Usage | None = None) -> None:
        # Never a silent fallback: a failed routing is reported, nothing else runs; what the
        # router's call cost is still counted.
        request = self.ctx.requests.get(opened.request_id or "")
        envelope = self.ctx.envelope(opened, request_id=opened.request_id)
        if request is not None:
            envelope["id"] = request_end_id(request.request_id, request.opened_at)
        self.ctx.emit(RequestFailed(**envelope, stage="routing", reason=f"routing failed: {why}", usage=charged(spent)))
