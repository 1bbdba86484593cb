"""The PermissionGate: the one place where relayed permission questions are decided.

An agent that wants to do what the policy leaves to a person records `permission.requested`
(asked in the conversation, with Allow / Deny). The gate then records exactly one
`permission.decided` per question: the answer of the requester or an approver, a deny once
`expires_at` passes, or a deny when the question's task ended first. The decision's id is derived
from the question, so a decision recorded twice (a redelivery, a restart) is stored once, and the
first one stored is the answer. Whoever waits for it (a local task, a remote agent) hears it from
the stream. After a restart the expiry of every pending question is re-armed (`Rearm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.confirm_policy import may_approve, relayed_from_parent
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import TASK_ENDED, AnyEvent
from claude_tunnels.events.conversation import NoticeIssued, PermissionAnswered
from claude_tunnels.events.execution import PermissionDecided, PermissionRequested
from claude_tunnels.events.ids import derived_id
from claude_tunnels.projections.requests import Question, RequestState


@dataclass(frozen=True)
class ExpireQuestion:
    """Timer message: the question `permission_id` of `request_id` may have expired."""

    request_id: str
    permission_id: str


@dataclass(frozen=True)
class RearmQuestions:
    """After a restart: schedule the expiry of every pending question again."""


def decision_id(question: Question) -> str:
    """The id of a question's decision: the same for every writer, so only the first is stored."""
    return derived_id(question.asked_at, f"permission:{question.permission_id}:decided")


def closing(
    question: Question, request: RequestState, *, at: datetime, cause_id: str | None, allowed: bool, by: str, reason: str,
) -> PermissionDecided:
    """The one decision of `question` (see `decision_id`)."""
    return PermissionDecided(
        id=decision_id(question), at=at, session_key=request.session_key, causation_id=cause_id,
        request_id=request.request_id, task_id=question.task_id, workspace=question.workspace, tool=question.tool,
        allowed=allowed, reason=reason, by=by, detail=question.detail, rule="asked in the conversation",
        permission_id=question.permission_id,
    )


class PermissionGate(EventActor):
    """Reacts to `permission.requested`, `permission.answered` and the end of tasks."""

    def handle(self, event: AnyEvent, seq: int) -> None:
        request = self.ctx.requests.get(getattr(event, "request_id", None) or "")
        if request is None:
            return
        match event:
            case PermissionRequested():
                question = request.questions.get(event.permission_id)
                if question is not None and not question.decided:
                    self._schedule(request, question)
            case PermissionAnswered():
                self._answered(event, request)
            case _ if isinstance(event, TASK_ENDED):
                for question in request.pending_questions():
                    if question.task_id == getattr(event, "task_id", None):
                        self._decide(event, request, question, allowed=False, by="orchestrator",
                                     reason="the task ended before anyone answered")

    def on_message(self, message: object) -> None:
        if isinstance(message, RearmQuestions):
            for request in list(self.ctx.requests.requests.values()):
                for question in request.pending_questions():
                    self._schedule(request, question)
        elif isinstance(message, ExpireQuestion):
            self._expire(message)
        else:
            super().on_message(message)

    def _schedule(self, request: RequestState, question: Question) -> None:
        if question.expires_at is not None:
            self.remind_at(question.expires_at, ExpireQuestion(request.request_id, question.permission_id))

    def _expire(self, message: ExpireQuestion) -> None:
        request = self.ctx.requests.get(message.request_id)
        question = request.questions.get(message.permission_id) if request else None
        if request is None or question is None or question.decided or question.expires_at is None:
            return
        if question.expires_at > self.ctx.clock.now():
            self._schedule(request, question)  # the timer fired early (a clock adjustment): wait again
            return
        waited = (question.expires_at - question.asked_at).total_seconds()
        span = f"{waited:g} s" if waited < 120 else f"{waited / 60:g} minutes"
        self._decide(None, request, question, allowed=False, by="timeout", reason=f"nobody answered within {span}")

    def _answered(self, answer: PermissionAnswered, request: RequestState) -> None:
        question = request.questions.get(answer.permission_id)
        if question is None:
            self._notice(answer, request, "That question is not one I asked; nothing changed.")
        elif question.decided:
            outcome = "allowed" if question.allowed else "denied"
            self._notice(answer, request, f"That question was already answered: {outcome} ({question.by}).")
        elif not relayed_from_parent(answer.by, request.delegation is not None) and not may_approve(
            answer.by, request.requester, self.ctx.settings.settings.approvers,
        ):
            self._notice(answer, request, f"Only {request.requester} or an approver can answer that question.")
        else:
            verdict = "allowed" if answer.allowed else "denied"
            self._decide(answer, request, question, allowed=answer.allowed, by=answer.by, reason=f"{verdict} by {answer.by}")

    def _decide(
        self, cause: Event | None, request: RequestState, question: Question, *, allowed: bool, by: str, reason: str,
    ) -> None:
        self.ctx.emit(closing(
            question, request, at=self.ctx.clock.now(), cause_id=cause.id if cause is not None else None,
            allowed=allowed, by=by, reason=reason,
        ))

    def _notice(self, cause: PermissionAnswered, request: RequestState, text: str) -> None:
        self.ctx.emit(NoticeIssued(**self.ctx.envelope(cause, request_id=request.request_id), text=text, level="warning", reply_to=cause.id))
