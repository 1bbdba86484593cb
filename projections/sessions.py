"""The session state machine: a pure fold of a conversation's events.

    idle --message--> planning --plan proposed--> pending_plan_approval --approved--> executing
      ^                 |  ^                           |        |                       |
      |          clarification  \\----- revised -------/   cancelled/expired      request ended
      |                 v                                       |                       |
      |        pending_confirmation                             v                       v
      \\-------------------------------------------------- awaiting_followup <----------/

`pending_confirmation` means the orchestrator asked the person something (a clarification) and
the next message answers it. `awaiting_followup` keeps the recent turns so a follow-up has context
(`actors.history` decides which of them a new request gets).

Beside the state machine, a session keeps the chat replies (`events.catalogue.CHAT_REPLIES`) that
its channel has not confirmed with `reply.posted`: a restarted channel posts those again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, assert_never

import msgspec
from msgspec.structs import replace

from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import CHAT_REPLIES, AnyEvent
from claude_tunnels.events.changes import (
    ChangesAnswered,
    ChangesDecided,
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
)
from claude_tunnels.events.conversation import (
    CancelRequested,
    ConfirmationAnswered,
    ConfirmationCancelled,
    ConfirmationExpired,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationRequested,
    MessageQueued,
    MessageReceived,
    NoticeIssued,
    PermissionAnswered,
    PlanRevised,
    ReplyPosted,
    RequestOpened,
    Turn,
)
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseCompleted,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestFailed,
    RequestResumed,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import ClarificationNeeded, DirectAnswerGiven, PlanApproved, PlanProposed, PlanRejected, RouteDecided
from claude_tunnels.events.values import Plan

SessionStatus = Literal[
    "idle",
    "pending_confirmation",
    "planning",
    "pending_plan_approval",
    "executing",
    "awaiting_followup",
]

MAX_TURNS = 10
MAX_DECIDED = 64
MAX_UNPOSTED = 20
_TURN_CHARS = 2000


class ActiveRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The request a session is working on."""

    request_id: str
    text: str
    requester: str
    channel: str
    opened_at: datetime
    plan: Plan | None = None
    revision: int = 0
    question: str | None = None
    expires_at: datetime | None = None
    approvers: list[str] = []


class QueuedMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message that waits for the running request to end."""

    message_id: str
    text: str
    sender: str


class PendingReply(msgspec.Struct, frozen=True, kw_only=True):
    """A chat reply whose posting the channel has not confirmed yet."""

    seq: int
    event_id: str
    at: datetime


class SessionState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a channel session needs to decide what a new message means."""

    key: str
    status: SessionStatus = "idle"
    request: ActiveRequest | None = None
    queue: tuple[QueuedMessage, ...] = ()
    turns: tuple[Turn, ...] = ()
    """The conversation a follow-up may see: the open (or last) request's history, its text, what
    was said since (revisions, the answer); at most `MAX_TURNS`."""
    decided: tuple[str, ...] = ()
    unposted: tuple[PendingReply, ...] = ()
    """Chat replies not yet confirmed posted, oldest first (at most `MAX_UNPOSTED`)."""
    last_seq: int = 0
    last_activity: datetime | None = None
    """When the conversation last moved: a request opened, decided or ended, a notice. Not the
    message being decided (it would always be fresh) nor a channel confirming a post; the
    follow-up window (`limits.followup_ttl_s`) is measured from it."""


_NOT_ACTIVITY = (MessageReceived, ReplyPosted)


def _turn(role: Literal["user", "assistant"], text: str, turns: tuple[Turn, ...]) -> tuple[Turn, ...]:
    return (*turns, Turn(role=role, text=text[:_TURN_CHARS]))[-MAX_TURNS:]


def _decided(state: SessionState, event: Event) -> tuple[str, ...]:
    if event.causation_id is None or event.family != "session" or isinstance(event, MessageReceived):
        return state.decided
    return (*state.decided, event.causation_id)[-MAX_DECIDED:]


def _ended(state: SessionState, ended: Event, summary: str) -> SessionState:
    if state.request is None or state.request.request_id != getattr(ended, "request_id", None):
        return state
    return replace(
        state, status="awaiting_followup", request=None, turns=_turn("assistant", summary, state.turns), last_activity=ended.at,
    )


def evolve(state: SessionState, event: AnyEvent) -> SessionState:
    """The session after `event`. Pure: no I/O, no clock.

    Every event type is named (mypy checks it: a new one must be handled or listed as changing
    nothing, else `assert_never` fails the type check)."""
    if event.family == "session":
        state = replace(state, decided=_decided(state, event))
        if not isinstance(event, _NOT_ACTIVITY):
            state = replace(state, last_activity=event.at)
    request = state.request
    current = request is not None and getattr(event, "request_id", None) == request.request_id
    match event:
        case RequestOpened():
            return replace(
                state,
                status="planning",
                request=ActiveRequest(
                    request_id=event.request_id or "",
                    text=event.text,
                    requester=event.requester,
                    channel=event.channel,
                    opened_at=event.at,
                ),
                queue=tuple(m for m in state.queue if m.message_id != event.message_id),
                # The request's recorded history is all the context the conversation keeps: turns
                # from before a pause longer than the follow-up window are gone for good.
                turns=_turn("user", event.text, tuple(event.history)),
            )
        case MessageQueued():
            return replace(
                state, queue=(*state.queue, QueuedMessage(message_id=event.message_id, text=event.text, sender=event.sender))
            )
        case ClarificationNeeded() if current:
            assert request is not None
            return replace(state, status="pending_confirmation", request=replace(request, question=event.question), last_activity=event.at)
        case PlanProposed() if current:
            assert request is not None
            return replace(
                state, status="pending_plan_approval", request=replace(request, plan=event.plan, revision=event.revision),
                last_activity=event.at,
            )
        case ConfirmationRequested() if current:
            assert request is not None
            return replace(state, request=replace(request, expires_at=event.expires_at, approvers=list(event.approvers)))
        case PlanRevised() if current:
            assert request is not None
            return replace(
                state,
                status="planning",
                request=replace(request, plan=None, expires_at=None, revision=request.revision + 1),
                turns=_turn("user", event.text, state.turns),
            )
        case PlanApproved() if current:
            return replace(state, status="executing", last_activity=event.at)
        case RequestCompleted():
            return _ended(state, event, event.summary)
        case RequestFailed():
            return _ended(state, event, f"(failed: {event.reason})")
        case RequestCancelled():
            return _ended(state, event, "(cancelled)")
        case ClarificationNeeded() | PlanProposed() | ConfirmationRequested() | PlanRevised() | PlanApproved():
            return state  # about a request that is not the session's current one
        case (
            MessageReceived() | NoticeIssued() | ReplyPosted() | CancelRequested() | PermissionAnswered()
            | ConfirmationAnswered() | ConfirmationGiven() | ConfirmationRefused() | ConfirmationCancelled() | ConfirmationExpired()
            | RouteDecided() | DirectAnswerGiven() | PlanRejected() | PhaseStarted() | PhaseCompleted() | RequestResumed()
            | WorkspaceTaskDispatched() | WorkspaceTaskStarted() | WorkspaceProgress() | PermissionRequested() | PermissionDecided()
            | WorkspaceTaskSucceeded() | WorkspaceTaskFailed() | WorkspaceTaskCancelled() | WorkspaceTaskTimedOut()
            | WorkspaceTaskSkipped() | WorkspaceTaskInterrupted()
            | ChangesProposed() | ChangesAnswered() | ChangesDecided() | ChangesMerged() | ChangesRefused()
            | ChangesPushed() | ChangesDiscarded() | ChangesOverlapped()
        ):
            # The state machine does not move on these (a session event's cause and time are noted
            # above): no new state object per progress or task event.
            return state
        case _:
            assert_never(event)


def track_replies(state: SessionState, seq: int, event: Event) -> SessionState:
    """Note a chat reply (stored at `seq`) as unposted until its `reply.posted`. Pure."""
    if isinstance(event, ReplyPosted):
        if not any(p.event_id == event.in_reply_to for p in state.unposted):
            return state
        return replace(state, unposted=tuple(p for p in state.unposted if p.event_id != event.in_reply_to))
    if isinstance(event, CHAT_REPLIES):
        pending = PendingReply(seq=seq, event_id=event.id, at=event.at)
        return replace(state, unposted=(*state.unposted, pending)[-MAX_UNPOSTED:])
    return state
