"""The channel session: one per conversation, the state machine deciding what a message means."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.changes import typed_decision, typed_target
from claude_tunnels.actors.confirm_policy import may_approve
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.history import request_history
from claude_tunnels.actors.intents import intent_of, permission_answer
from claude_tunnels.actors.once import request_end_id
from claude_tunnels.actors.status import describe_status
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import DECISIONS, ChangesAnswered, Decision
from claude_tunnels.events.conversation import (
    CancelRequested,
    ConfirmationAnswered,
    MessageQueued,
    MessageReceived,
    NoticeIssued,
    PermissionAnswered,
    PlanRevised,
    RequestOpened,
)
from claude_tunnels.events.execution import RequestCancelled, RequestCompleted, RequestFailed
from claude_tunnels.events.values import Delegation, Usage
from claude_tunnels.projections.sessions import SessionState


class ChannelSession(EventActor):
    """Decides, for each message of one conversation: new request, answer, status, cancel or queue.

    Its writes are guarded by the session's last sequence: if anything else extended the session
    meanwhile, the dispatcher re-delivers the message against the fresh state.

    It keeps nothing but its key (the state is the sessions projection's), so it lives only while
    it has events to handle: retired when idle, started again by the next (`Conversations`).
    """

    def __init__(self, ctx: ActorContext, session_key: str) -> None:
        super().__init__(ctx)
        self.session_key = session_key

    # -- helpers -----------------------------------------------------------------------------

    def _state(self) -> SessionState:
        return self.ctx.sessions.get(self.session_key)

    def _record(self, state: SessionState, *events: Event) -> None:
        expected = state.last_seq
        for event in events:
            expected = self.ctx.emit(event, expected_session_seq=expected).seq

    def _ending(self, cause: Event, request_id: str, opened_at: datetime) -> dict[str, Any]:
        """The envelope of the request's one end (`actors.once`)."""
        return {**self.ctx.envelope(cause, request_id=request_id), "id": request_end_id(request_id, opened_at)}

    def _notice(self, state: SessionState, cause: Event, text: str, level: str = "info") -> None:
        request_id = state.request.request_id if state.request else None
        self._record(state, NoticeIssued(**self.ctx.envelope(cause, request_id=request_id), text=text, level=level, reply_to=cause.id))  # type: ignore[arg-type]

    def _open(
        self, state: SessionState, cause: Event, text: str, sender: str, channel: str, message_id: str,
        delegation: Delegation | None = None,
    ) -> None:
        limit = self.ctx.settings.settings.limits.max_message_chars
        if len(text) > limit:
            self._notice(state, cause, f"That message is too long ({len(text)} characters; the limit is {limit}). Please shorten it.", "warning")
            return
        if not text.strip():
            return
        limits = self.ctx.settings.settings.limits
        history = request_history(state, now=self.ctx.clock.now(), ttl_s=limits.followup_ttl_s, max_chars=limits.max_message_chars)
        self._record(state, RequestOpened(
            **self.ctx.envelope(cause, request_id=self.ctx.ids.new_id()),
            text=text, requester=sender, channel=channel, message_id=message_id, history=history, delegation=delegation,
        ))

    # -- reactions ---------------------------------------------------------------------------

    def handle(self, event: AnyEvent, seq: int) -> None:
        state = self._state()
        if event.id in state.decided:
            return  # a redelivery: this message was already answered
        match event:
            case MessageReceived():
                self._on_message(state, event)
            case RequestCompleted() | RequestFailed() | RequestCancelled():
                self._after_request(state, event)

    def _on_message(self, state: SessionState, message: MessageReceived) -> None:
        if self._changes_decision(state, message):
            return
        intent = message.action or intent_of(message.text)
        request = state.request
        status = state.status
        if message.permission_id:
            self._answer_question(state, message, message.permission_id, allowed=message.action == "approve")
        elif (question := self._pending_question(state)) is not None and (answer := permission_answer(message.text)) is not None:
            self._answer_question(state, message, question, allowed=answer)
        elif intent == "status":
            budget = self.ctx.settings.settings.limits.max_cost_usd_per_request
            self._notice(state, message, describe_status(state, self.ctx.requests, budget))
        elif status == "pending_plan_approval" and request is not None:
            if message.request_id not in (None, request.request_id):
                # A button, or a typed answer the channel addressed to a plan (a reply to it).
                self._notice(state, message, f"That {'button' if message.action else 'answer'} belongs to an earlier plan; nothing changed.")
            elif intent in ("approve", "cancel", "dismiss"):
                # "done" or "no thanks" drops the plan as "cancel" does: never a paid re-planning.
                self._record(state, ConfirmationAnswered(
                    **self.ctx.envelope(message, request_id=request.request_id), by=message.sender,
                    answer="approve" if intent == "approve" else "cancel", message_id=message.id,
                ))
            elif not may_approve(message.sender, request.requester, self.ctx.settings.settings.approvers):
                self._notice(state, message, f"Only {request.requester} or an approver can change this plan.", "warning")
            else:
                self._record(state, PlanRevised(
                    **self.ctx.envelope(message, request_id=request.request_id), by=message.sender, text=message.text, message_id=message.id,
                ))
        elif status in ("executing", "planning") and request is not None:
            if intent == "cancel":
                if not may_approve(message.sender, request.requester, self.ctx.settings.settings.approvers):
                    self._notice(state, message, f"Only {request.requester} or an approver can cancel this request.", "warning")
                elif status == "planning":
                    # Nothing runs yet and no supervisor listens for a cancel: the request ends here
                    # (the router or planner drops its late answer).
                    current = self.ctx.requests.get(request.request_id)
                    self._record(state, RequestCancelled(
                        **self._ending(message, request.request_id, request.opened_at), by=message.sender,
                        usage=current.usage if current is not None else Usage(),
                    ))
                else:
                    self._record(state, CancelRequested(**self.ctx.envelope(message, request_id=request.request_id), by=message.sender))
            elif message.action or intent in ("approve", "dismiss"):
                # A "yes" before the plan is shown, or a "done", is not a new request to queue.
                if status == "planning":
                    waiting = "The plan is not ready yet; I'll ask when it is."
                elif intent == "dismiss":
                    waiting = f"Request {request.request_id} is still running; say stop to cancel it."
                else:
                    waiting = "Nothing is waiting for approval right now."
                self._notice(state, message, waiting)
            else:
                self._record(state, MessageQueued(
                    **self.ctx.envelope(message, request_id=request.request_id), message_id=message.id,
                    text=message.text, sender=message.sender, position=len(state.queue) + 1,
                ))
        elif status == "pending_confirmation" and request is not None:
            if intent in ("cancel", "dismiss"):
                self.ctx.emit(RequestCancelled(**self._ending(message, request.request_id, request.opened_at), by=message.sender))
            else:
                # The answer is routed on the person's words only: the request and the answer. The
                # question (whose listed names are the bot's, not theirs) is a turn of the history.
                self._open(state, message, f"{request.text}\n\n{message.text}", message.sender, message.channel, message.id)
        elif intent in ("approve", "cancel", "dismiss") or message.action:
            # A bare "yes" or "stop" with nothing pending is not a request: say so.
            self._notice(state, message, "Nothing is running or waiting for approval.")
        else:
            self._open(state, message, message.text, message.sender, message.channel, message.id, message.delegation)

    def _changes_decision(self, state: SessionState, message: MessageReceived) -> bool:
        """A Merge / Open PR / Discard button, or `merge`, `pr`, `discard` typed (optionally with a
        request id and a repository): record it for the changes gate (which checks who). False when
        the message is not a decision."""
        decision: Decision | None = None
        words: list[str] = []
        if message.action in DECISIONS:
            decision = message.action
        elif message.action is None and (typed := typed_decision(message.text)) is not None:
            decision, words = typed
        if decision is None:
            return False
        if message.action is not None:
            request, repo = self.ctx.requests.get(message.request_id or ""), message.repo or ""
            problem = "" if request is not None else "That button belongs to a request I do not know; nothing changed."
        else:
            request, repo, problem = typed_target(self.ctx.requests, self.session_key, decision, words)
        if request is None or problem:
            self._notice(state, message, problem, "warning")
            return True
        self._record(state, ChangesAnswered(
            **self.ctx.envelope(message, request_id=request.request_id), by=message.sender, decision=decision,
            message_id=message.id, repo=repo,
        ))
        return True

    def _pending_question(self, state: SessionState) -> str | None:
        """The oldest permission question still waiting in this conversation's running request."""
        if state.status != "executing" or state.request is None:
            return None
        request = self.ctx.requests.get(state.request.request_id)
        pending = request.pending_questions() if request is not None else []
        return pending[0].permission_id if pending else None

    def _answer_question(self, state: SessionState, message: MessageReceived, permission_id: str, *, allowed: bool) -> None:
        # Who may answer is the gate's to check (it knows the question); a typed answer goes to the oldest.
        request_id = message.request_id or (state.request.request_id if state.request else None)
        self._record(state, PermissionAnswered(
            **self.ctx.envelope(message, request_id=request_id), permission_id=permission_id, by=message.sender,
            allowed=allowed, message_id=message.id,
        ))

    def _after_request(self, state: SessionState, ended: Event) -> None:
        # The request ended: handle the oldest queued message, if any, as a new request.
        if state.status in ("planning", "pending_plan_approval", "executing", "pending_confirmation") or not state.queue:
            return
        queued = state.queue[0]
        channel = self.session_key.split(":", 1)[0]
        self._open(state, ended, queued.text, queued.sender, channel, queued.message_id)
