"""Which actor reacts to which event, and the actors' lifetimes."""

from __future__ import annotations

import threading

import pykka

from actors.channel_session import ChannelSession
from actors.confirm_gate import ConfirmGate
from actors.context import ActorContext
from actors.permission_gate import PermissionGate
from actors.phase_supervisor import PhaseSupervisor
from actors.planner import Planner
from actors.router import Router
from actors.workspace_agent import WorkspaceAgent
from events.catalogue import REQUEST_ENDED, TASK_ENDED, AnyEvent
from events.conversation import (
    CancelRequested,
    ConfirmationAnswered,
    MessageReceived,
    PermissionAnswered,
    PlanRevised,
    RequestOpened,
)
from events.execution import PermissionRequested, WorkspaceTaskDispatched
from events.planning import PlanApproved, PlanProposed, RouteDecided


class Directory:
    """Starts actors on demand and routes each event to the ones that react to it."""

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.router = Router.start(ctx)
        self.planner = Planner.start(ctx)
        self.gate = ConfirmGate.start(ctx)
        self.permissions = PermissionGate.start(ctx)
        self._sessions: dict[str, pykka.ActorRef[ChannelSession]] = {}
        self._supervisors: dict[str, pykka.ActorRef[PhaseSupervisor]] = {}
        self._lock = threading.Lock()

    def session(self, key: str) -> pykka.ActorRef[ChannelSession]:
        """The conversation's actor, started on its first event."""
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = ChannelSession.start(self.ctx, key)
            return self._sessions[key]

    def supervisor(self, request_id: str, *, create: bool) -> pykka.ActorRef[PhaseSupervisor] | None:
        """The request's supervisor (started when its plan is approved)."""
        with self._lock:
            if create and request_id not in self._supervisors:
                self._supervisors[request_id] = PhaseSupervisor.start(self.ctx, request_id)
            return self._supervisors.get(request_id)

    def targets(self, event: AnyEvent) -> list[pykka.ActorRef]:  # type: ignore[type-arg]
        """The actors that react to `event` (possibly none)."""
        request_id = getattr(event, "request_id", None)
        match event:
            case MessageReceived():
                return [self.session(event.session_key)]
            case RequestOpened():
                return [self.router]
            case RouteDecided() | PlanRevised():
                return [self.planner]
            case PlanProposed() | ConfirmationAnswered():
                return [self.gate]
            case PermissionRequested() | PermissionAnswered():
                return [self.permissions]
            case PlanApproved():
                return [self.supervisor(event.request_id, create=True)]  # type: ignore[list-item]
            case CancelRequested():
                supervisor = self.supervisor(request_id or "", create=False)
                return [supervisor] if supervisor else []
            case WorkspaceTaskDispatched():
                return [WorkspaceAgent.start(self.ctx, event.task_id)]
            case _ if isinstance(event, TASK_ENDED):
                supervisor = self.supervisor(request_id or "", create=False)
                return [supervisor, self.permissions] if supervisor else [self.permissions]
            case _ if isinstance(event, REQUEST_ENDED):
                self._retire(request_id or "")
                return [self.session(event.session_key)]
        return []

    def _retire(self, request_id: str) -> None:
        with self._lock:
            supervisor = self._supervisors.pop(request_id, None)
        if supervisor is not None:
            supervisor.stop(block=False)

    def stop_all(self) -> None:
        """Stop every actor of this orchestrator."""
        pykka.ActorRegistry.stop_all(block=True, timeout=10)
