"""Which actor reacts to which event, and the actors' lifetimes."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from claude_tunnels.actors.base import Target
from claude_tunnels.actors.changes_gate import ChangesGate
from claude_tunnels.actors.confirm_gate import ConfirmGate
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.conversations import Conversation, Conversations, DirectoryStopped
from claude_tunnels.actors.permission_gate import PermissionGate
from claude_tunnels.actors.phase_supervisor import PhaseSupervisor
from claude_tunnels.actors.planner import Planner
from claude_tunnels.actors.router import Router
from claude_tunnels.actors.workspace_agent import WorkspaceAgent
from claude_tunnels.events.catalogue import REQUEST_ENDED, TASK_ENDED, AnyEvent
from claude_tunnels.events.changes import ChangesAnswered, ChangesDecided, ChangesProposed
from claude_tunnels.events.conversation import (
    CancelRequested,
    ConfirmationAnswered,
    MessageReceived,
    PermissionAnswered,
    PlanRevised,
    RequestOpened,
)
from claude_tunnels.events.execution import PermissionRequested, RequestCompleted, RequestResumed, WorkspaceTaskDispatched
from claude_tunnels.events.planning import PlanApproved, PlanProposed, RouteDecided

_STOP_TIMEOUT_S = 10.0


class Directory:
    """Starts actors on demand and routes each event to the ones that react to it.

    Lifetimes: router, planner and the three gates live as long as the directory; a conversation
    has an actor only while it has an event to handle (`Conversations`; `retire_idle=False` keeps
    them); a request's supervisor lives from its approval to its end, a task's agent until its task
    ends. `stop_all` stops only what this directory started, so two orchestrators in one process
    (as in tests) never stop each other's actors.
    """

    def __init__(self, ctx: ActorContext, *, retire_idle: bool = True) -> None:
        self.ctx = ctx
        self.conversations = Conversations(ctx, retire_idle=retire_idle)
        self.router = Router.start(ctx)
        self.planner = Planner.start(ctx)
        self.gate = ConfirmGate.start(ctx)
        self.permissions = PermissionGate.start(ctx)
        self.changes = ChangesGate.start(ctx)
        self._supervisors: dict[str, pykka.ActorRef[PhaseSupervisor]] = {}
        self._transient: list[pykka.ActorRef[Any]] = []  # task agents and retired supervisors, until seen dead
        self._lock = threading.Lock()
        self._stopped = False

    def session(self, key: str) -> Conversation:
        """The conversation's target: its actor is started when an event is delivered to it."""
        return self.conversations.target(key)

    def supervisor(self, request_id: str, *, create: bool) -> pykka.ActorRef[PhaseSupervisor] | None:
        """The request's supervisor (started when its plan is approved)."""
        with self._lock:
            if create and request_id not in self._supervisors:
                self._running()
                self._supervisors[request_id] = PhaseSupervisor.start(self.ctx, request_id)
            return self._supervisors.get(request_id)

    def _agent(self, task_id: str) -> pykka.ActorRef[WorkspaceAgent]:
        with self._lock:
            self._running()
            ref = WorkspaceAgent.start(self.ctx, task_id)
            self._keep_transient(ref)
            return ref

    def _keep_transient(self, ref: pykka.ActorRef[Any]) -> None:
        # Agents stop themselves when their task ends, supervisors once asked to; they are kept
        # only so that `stop_all` stops and waits for them too, and forgotten once seen dead.
        self._transient = [known for known in self._transient if known.is_alive()]
        self._transient.append(ref)

    def _running(self, event: AnyEvent | None = None) -> None:
        if self._stopped:
            what = f"{event.type} {event.id}" if event is not None else "the event"
            raise DirectoryStopped(f"the actors have stopped; {what} is left unacknowledged for the next orchestrator")

    def targets(self, event: AnyEvent) -> list[Target]:
        """The actors that react to `event` (possibly none); `DirectoryStopped` after `stop_all`."""
        with self._lock:
            self._running(event)
        request_id = getattr(event, "request_id", None)
        match event:
            case MessageReceived():
                return [self.session(event.session_key)]
            case RequestOpened() | RequestResumed(stage="routing"):
                return [self.router]
            case RequestResumed(stage="planning"):
                return [self.planner]
            case RouteDecided() | PlanRevised():
                return [self.planner]
            case PlanProposed() | ConfirmationAnswered():
                return [self.gate]
            case PermissionRequested() | PermissionAnswered():
                return [self.permissions]
            case PlanApproved():
                request = self.ctx.requests.get(event.request_id)
                if request is None or request.status != "executing":
                    return []  # delivered again after its request ended: no supervisor to start
                return [self.supervisor(event.request_id, create=True)]  # type: ignore[list-item]
            case CancelRequested():
                supervisor = self.supervisor(request_id or "", create=False)
                return [supervisor] if supervisor else []
            case WorkspaceTaskDispatched():
                return [self._agent(event.task_id)]
            case _ if isinstance(event, TASK_ENDED):
                supervisor = self.supervisor(request_id or "", create=False)
                return [supervisor, self.permissions] if supervisor else [self.permissions]
            case ChangesProposed() | ChangesAnswered() | ChangesDecided():
                return [self.changes]
            case RequestCompleted():
                self._retire(request_id or "")
                # The changes gate proposes its branches; the confirm gate calls off a pending expiry.
                return [self.session(event.session_key), self.changes, self.gate]
            case _ if isinstance(event, REQUEST_ENDED):
                self._retire(request_id or "")
                return [self.session(event.session_key), self.gate]
        return []

    def _retire(self, request_id: str) -> None:
        with self._lock:
            supervisor = self._supervisors.pop(request_id, None)
            if supervisor is not None:
                self._keep_transient(supervisor)
                supervisor.stop(block=False)

    def stop_all(self) -> None:
        """Stop the actors this directory started (and no other), each after what it is handling;
        deliveries after this raise `DirectoryStopped`. Waits for them to end."""
        with self._lock:
            self._stopped = True
            short_lived: list[pykka.ActorRef[Any]] = [*self._supervisors.values(), *self._transient]
            self._supervisors.clear()
            self._transient = []
        refs = [*self.conversations.close(), *short_lived, self.changes, self.permissions, self.gate, self.planner, self.router]
        stopping = [ref.stop(block=False) for ref in refs]
        for future in stopping:
            future.get(timeout=_STOP_TIMEOUT_S)
