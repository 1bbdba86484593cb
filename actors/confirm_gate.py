"""The ConfirmGate: shows the plan, waits for approve / cancel, checks who answers, expires.

What an answer leads to has ids derived from the answer (`actors.once`): an answer delivered
again after a restart records nothing twice ("Approved" is said once), and one whose approval is
already stored is not refused as if nothing waited for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.confirm_policy import approvers_for, may_approve, relayed_from_parent
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.once import reaction_id, request_end_id
from claude_tunnels.actors.ports import Cancellable
from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.conversation import (
    ConfirmationAnswered,
    ConfirmationCancelled,
    ConfirmationExpired,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationRequested,
)
from claude_tunnels.events.execution import RequestCancelled, RequestFailed
from claude_tunnels.events.planning import PlanApproved, PlanProposed
from claude_tunnels.projections.requests import RequestState


@dataclass(frozen=True)
class Expire:
    """Timer message: the approval of `request_id` at `revision` may have expired."""

    request_id: str
    revision: int


@dataclass(frozen=True)
class Rearm:
    """After a restart: schedule the expiry of every pending approval again."""


class ConfirmGate(EventActor):
    """Reacts to `plan.proposed` and `confirmation.answered`; only the requester or an approver may answer."""

    def _auto(self, channel: str) -> bool:
        channels = self.ctx.settings.settings.channels
        settings = getattr(channels, channel, None)
        return bool(getattr(settings, "auto_approve", False))

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._expiries: dict[str, Cancellable] = {}
        """The expiry timer of each request waiting for approval (called off once it waits no more)."""

    def _schedule(self, request: RequestState) -> None:
        if request.approval_expires_at is not None:
            self._arm(request.request_id, request.approval_expires_at, request.revision)

    def _arm(self, request_id: str, when: datetime, revision: int) -> None:
        self._disarm(request_id)
        self._expiries[request_id] = self.remind_at(when, Expire(request_id, revision))

    def _disarm(self, request_id: str) -> None:
        timer = self._expiries.pop(request_id, None)
        if timer is not None:
            timer.cancel()

    def handle(self, event: AnyEvent, seq: int) -> None:
        if isinstance(event, REQUEST_ENDED):
            self._disarm(event.request_id or "")
            return
        request = self.ctx.requests.get(getattr(event, "request_id", None) or "")
        if request is None:
            return
        match event:
            case PlanProposed():
                self._ask(event, request)
            case ConfirmationAnswered():
                self._answered(event, request)

    def _ask(self, proposed: PlanProposed, request: RequestState) -> None:
        if request.status != "awaiting_approval" or request.revision != proposed.revision or request.approval_expires_at:
            return
        envelope = self.ctx.envelope(proposed, request_id=request.request_id)
        if request.delegation is not None and self.ctx.settings.settings.parent.approval == "parent":
            # A parent orchestrator's task: its approved plan authorises this one (no second approval).
            by = f"{request.delegation.approved_by or 'the parent'} (parent request {request.delegation.request_id})"
            self.ctx.emit(ConfirmationGiven(**self._once(proposed, "confirmation.given"), by=by, auto=True))
            self.ctx.emit(PlanApproved(**self._once(proposed, "plan.approved"), by=by, auto=True))
            return
        if self._auto(request.channel):
            self.ctx.emit(ConfirmationGiven(**self._once(proposed, "confirmation.given"), by="auto", auto=True))
            self.ctx.emit(PlanApproved(**self._once(proposed, "plan.approved"), by="auto", auto=True))
            return
        ttl = timedelta(seconds=self.ctx.settings.settings.limits.approval_ttl_s)
        asked = ConfirmationRequested(
            **envelope, requester=request.requester, revision=proposed.revision,
            approvers=approvers_for(request.requester, self.ctx.settings.settings.approvers),
            expires_at=envelope["at"] + ttl,
        )
        self.ctx.emit(asked)
        self._arm(request.request_id, asked.expires_at, proposed.revision)

    def _once(self, cause: AnyEvent, what: str) -> dict[str, Any]:
        """The envelope of the one `what` that `cause` leads to (its id derived from `cause`)."""
        return {**self.ctx.envelope(cause, request_id=getattr(cause, "request_id", None)), "id": reaction_id(cause.id, cause.at, what)}

    def _answered(self, answer: ConfirmationAnswered, request: RequestState) -> None:
        ctx, rid = self.ctx, request.request_id
        if request.status != "awaiting_approval" and answer.id in ctx.sessions.get(answer.session_key).decided:
            return  # handled before a restart (this is its redelivery): its outcome is stored
        if request.status != "awaiting_approval":
            ctx.emit(ConfirmationRefused(**self._once(answer, "confirmation.refused"), by=answer.by, reason="nothing is waiting for approval"))
        elif not relayed_from_parent(answer.by, request.delegation is not None) and not may_approve(
            answer.by, request.requester, ctx.settings.settings.approvers,
        ):
            reason = f"{answer.by} may not answer for {request.requester}'s request; ask them or an approver"
            ctx.emit(ConfirmationRefused(**self._once(answer, "confirmation.refused"), by=answer.by, reason=reason))
        elif answer.answer == "approve":
            ctx.emit(ConfirmationGiven(**self._once(answer, "confirmation.given"), by=answer.by))
            ctx.emit(PlanApproved(**self._once(answer, "plan.approved"), by=answer.by))
            self._disarm(rid)
        else:
            ctx.emit(ConfirmationCancelled(**self._once(answer, "confirmation.cancelled"), by=answer.by))
            ended = {**ctx.envelope(answer, request_id=rid), "id": request_end_id(rid, request.opened_at)}
            ctx.emit(RequestCancelled(**ended, by=answer.by, usage=request.usage))

    def on_message(self, message: object) -> None:
        if isinstance(message, Rearm):
            for request in list(self.ctx.requests.requests.values()):
                if request.status == "awaiting_approval":
                    self._schedule(request)
        elif isinstance(message, Expire):
            self._expire(message)
        else:
            super().on_message(message)

    def _expire(self, message: Expire) -> None:
        self._expiries.pop(message.request_id, None)
        request = self.ctx.requests.get(message.request_id)
        if request is None or request.status != "awaiting_approval" or request.revision != message.revision:
            return
        if request.approval_expires_at and request.approval_expires_at > self.ctx.clock.now():
            self._schedule(request)  # re-armed with a later expiry
            return
        at, minutes = self.ctx.clock.now(), self.ctx.settings.settings.limits.approval_ttl_s / 60
        expired_id = reaction_id(request.request_id, request.opened_at, f"expired:{request.revision}")
        expired = ConfirmationExpired(id=expired_id, at=at, session_key=request.session_key, request_id=request.request_id)
        self.ctx.emit(expired)
        self.ctx.emit(RequestFailed(
            id=request_end_id(request.request_id, request.opened_at), at=at, session_key=request.session_key, causation_id=expired.id,
            request_id=request.request_id, stage="approval",
            reason=f"nobody approved the plan within {minutes:g} minutes; send the request again to re-plan",
        ))

