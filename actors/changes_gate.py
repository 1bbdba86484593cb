"""The ChangesGate: a request's changes in git are proposed when it ends, and decided once.

- `request.completed` with local tasks that committed changes in git: the request branch of each
  repository is made (`ChangeIntegrator.propose`, on the loop) and `changes.proposed` recorded,
  with the overlaps known then, and the automatic decision when `git.on_success` applies.
- `changes.answered` (a typed word, a button): only the requester or an approver may decide;
  anyone else is told so. For each repository still open, one `changes.decided` is recorded, its
  id derived from the request, the repository and the attempt (a double click, a redelivery, a
  person and `git.on_success` at once: the first stored decides). Before a merge or a pull
  request, other requests' open branches changing the same files are told to both conversations.
- `changes.decided`: the decision is carried out on the loop and its outcome recorded
  (`changes.merged` / `changes.pushed` / `changes.discarded` / `changes.refused`), its id derived
  too. After a restart (`ResumeChanges`) a decision left in flight is carried out again (the
  integrator finds what was already done) and a request that ended without its proposal gets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pykka
from msgspec.structs import replace

from claude_tunnels.actors.base import EventActor
from claude_tunnels.actors.changes import (
    AUTO,
    automatic,
    decision_id,
    outcome_id,
    overlap_id,
    overlaps,
    proposal_id,
    repo_work,
)
from claude_tunnels.actors.changes_text import merge_message, pr_body, title
from claude_tunnels.actors.confirm_policy import may_approve
from claude_tunnels.actors.context import ActorContext
from claude_tunnels.actors.ports import ChangeIntegrator, Discarded, Merged, Pushed, Refusal, RepoWork
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import (
    ChangesAnswered,
    ChangesDecided,
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
    Decision,
    RepoChanges,
)
from claude_tunnels.events.conversation import NoticeIssued
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.projections.changes import RepoState
from claude_tunnels.projections.requests import RequestState

log = logging.getLogger(__name__)

RESUME_WITHIN = timedelta(days=1)
"""After a restart, a request that ended this recently without its proposal gets it."""
_DOING = {"merge": "merged", "pr": "pushed for a pull request", "discard": "discarded"}
_DONE = {"merged": "merged", "pushed": "pushed (pull request)", "discarded": "discarded"}


@dataclass(frozen=True)
class ResumeChanges:
    """After a restart: propose what ended without its proposal; carry out decisions left in flight."""


@dataclass(frozen=True)
class _Finished:
    key: str


class ChangesGate(EventActor):
    """Reacts to `request.completed`, `changes.proposed`, `changes.answered` and `changes.decided`."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._working: set[str] = set()  # work on the loop not finished yet (a redelivery starts none)

    @property
    def port(self) -> ChangeIntegrator:
        assert self.ctx.changes is not None
        return self.ctx.changes

    def handle(self, event: AnyEvent, seq: int) -> None:
        request = self.ctx.requests.get(getattr(event, "request_id", None) or "")
        if request is None or self.ctx.changes is None:
            return
        match event:
            case RequestCompleted():
                self._propose(request, event.id)
            case ChangesProposed() if event.automatic is not None:
                self._decide(event, request, event.automatic, by=AUTO)
            case ChangesAnswered():
                self._answered(event, request)
            case ChangesDecided():
                self._carry_out(request, event.repo, event.attempt)

    def on_message(self, message: object) -> None:
        if isinstance(message, _Finished):
            self._working.discard(message.key)
        elif isinstance(message, ResumeChanges):
            if self.ctx.changes is not None:
                self._resume()
        else:
            super().on_message(message)

    # -- proposing -------------------------------------------------------------------------

    def _propose(self, request: RequestState, cause: str | None) -> None:
        if request.changes or request.status != "completed" or request.ended_at is None:
            return
        work = repo_work(request)
        if work:
            rid = request.request_id
            self._start(f"propose:{rid}", lambda: self._make_proposal(rid, work, cause), name=f"propose changes {rid}")

    async def _make_proposal(self, request_id: str, work: list[RepoWork], cause: str | None) -> None:
        repos: list[RepoChanges] = []
        for item in work:
            try:
                proposal = await self.port.propose(request_id, item)
            except Exception as err:  # one repository's failure is told, the others are proposed
                log.exception("could not make the request branch of %s for %s", item.repo, request_id)
                await self._append_notice(request_id, cause, f"The changes of request {request_id} in {item.repo} could not be "
                                                               f"gathered into one branch ({err}); its task branches are kept.")
                continue
            if proposal is not None:
                found = overlaps(self.ctx.requests.requests.values(), request_id, proposal.repo, (f.path for f in proposal.files))
                repos.append(replace(proposal, overlaps=found))
        request = self.ctx.requests.get(request_id)
        if not repos or request is None or request.ended_at is None:
            return
        await self.ctx.recorder.append(ChangesProposed(
            id=proposal_id(request_id, request.ended_at), at=self.ctx.clock.now(), session_key=request.session_key,
            causation_id=cause, request_id=request_id, repos=repos,
            automatic=automatic(request, repos, self.ctx.settings.settings.git),
        ))

    # -- deciding --------------------------------------------------------------------------

    def _answered(self, answer: ChangesAnswered, request: RequestState) -> None:
        rid = request.request_id
        if not request.changes:
            self._notice(answer, rid, f"Request {rid} has no changes waiting for a decision.")
        elif not may_approve(answer.by, request.requester, self.ctx.settings.settings.approvers):
            self._notice(answer, rid, f"Only {request.requester} or an approver can decide what happens to the changes of request {rid}.")
        else:
            self._decide(answer, request, answer.decision, by=answer.by, repo=answer.repo)

    def _decide(self, cause: Event, request: RequestState, decision: Decision, *, by: str, repo: str = "") -> None:
        """Record the decision for `repo` (every repository still open when ""); say why not, where not."""
        rid, notes, decided = request.request_id, [], 0
        for label in [repo] if repo else list(request.changes):
            state = request.changes.get(label)
            if state is None:
                notes.append(f"request {rid} has no changes in {label} (it has: {', '.join(request.changes)})")
            elif state.status == "deciding":
                notes.append(f"{label} is being {_DOING.get(state.decision, state.decision)} already")
            elif state.status != "open":
                notes.append(f"{label} was {_DONE[state.status]} already")
            else:
                decided += 1
                decided_event = ChangesDecided(
                    id=decision_id(rid, label, state.attempts, state.proposed_at), at=self.ctx.clock.now(),
                    session_key=request.session_key, causation_id=cause.id, request_id=rid, repo=label, decision=decision,
                    by=by, attempt=state.attempts,
                )
                if not self.ctx.emit(decided_event).duplicate and decision != "discard":
                    self._tell_overlaps(decided_event, request, state)
        if notes and (repo or not decided) and isinstance(cause, ChangesAnswered):
            self._notice(cause, rid, "Nothing changed: " + "; ".join(notes) + ".")

    def _tell_overlaps(self, decided: ChangesDecided, request: RequestState, state: RepoState) -> None:
        """Tell both conversations about every other open branch changing the same files (blocks nothing)."""
        rid, files = request.request_id, (f.path for f in state.proposal.files)
        for overlap in overlaps(self.ctx.requests.requests.values(), rid, decided.repo, files):
            other = self.ctx.requests.get(overlap.request_id)
            if other is None:
                continue
            for shown_in, about, branch in ((request, other, overlap.branch), (other, request, state.proposal.branch)):
                self.ctx.emit(ChangesOverlapped(
                    id=overlap_id(rid, decided.repo, decided.attempt, about.request_id, shown_in.request_id, state.proposed_at),
                    at=self.ctx.clock.now(), session_key=shown_in.session_key, causation_id=decided.id,
                    request_id=shown_in.request_id, repo=decided.repo, deciding_request=rid, decision=decided.decision,
                    other_request=about.request_id, other_branch=branch, files=overlap.files,
                ))

    # -- carrying a decision out -----------------------------------------------------------

    def _carry_out(self, request: RequestState, repo: str, attempt: int) -> None:
        state = request.changes.get(repo)
        if state is None or state.status != "deciding" or state.attempts != attempt + 1:
            return  # carried out already, or not this attempt
        rid = request.request_id
        self._start(f"{rid}:{repo}:{attempt}", lambda: self._do(rid, repo, attempt), name=f"{state.decision} {rid} {repo}")

    async def _do(self, request_id: str, repo: str, attempt: int) -> None:
        request = self.ctx.requests.get(request_id)
        state = request.changes.get(repo) if request is not None else None
        if request is None or state is None:
            return
        proposal, decision = state.proposal, state.decision
        outcome: Merged | Pushed | Discarded | Refusal
        try:
            if decision == "merge":
                outcome = await self.port.merge(request_id, proposal, merge_message(request, proposal))
            elif decision == "pr":
                outcome = await self.port.publish(request_id, proposal, title(request), pr_body(request, proposal))
            else:
                outcome = await self.port.discard(request_id, proposal)
        except Exception as err:
            log.exception("could not carry out %s of %s in %s", decision, request_id, repo)
            outcome = Refusal(f"it failed ({err}); nothing is known to have changed")
        envelope: dict[str, Any] = {
            "id": outcome_id(request_id, repo, attempt, state.proposed_at), "at": self.ctx.clock.now(),
            "session_key": request.session_key, "request_id": request_id, "repo": repo,
            "causation_id": decision_id(request_id, repo, attempt, state.proposed_at),
        }
        await self.ctx.recorder.append(_outcome_event(outcome, envelope, state))

    # -- after a restart -------------------------------------------------------------------

    def _resume(self) -> None:
        now = self.ctx.clock.now()
        for request in list(self.ctx.requests.requests.values()):
            if not request.changes and request.ended_at is not None and now - request.ended_at <= RESUME_WITHIN:
                self._propose(request, None)
            for repo, state in request.changes.items():
                if state.status == "deciding":
                    self._carry_out(request, repo, state.attempts - 1)

    # -- helpers ---------------------------------------------------------------------------

    def _start(self, key: str, work: Callable[[], Coroutine[Any, Any, None]], *, name: str) -> None:
        """Run `work()` on the loop unless work of the same key runs already."""
        if key in self._working:
            return
        self._working.add(key)
        ref = self.actor_ref

        def finished(_: object) -> None:
            try:
                ref.tell(_Finished(key))
            except pykka.ActorDeadError:
                pass  # stopped with its orchestrator meanwhile

        self.ctx.start(work(), name=name).add_done_callback(finished)

    def _notice(self, cause: ChangesAnswered, request_id: str, text: str) -> None:
        self.ctx.emit(NoticeIssued(**self.ctx.envelope(cause, request_id=request_id), text=text, level="warning", reply_to=cause.id))

    async def _append_notice(self, request_id: str, cause: str | None, text: str) -> None:
        request = self.ctx.requests.get(request_id)
        if request is not None:
            await self.ctx.recorder.append(NoticeIssued(
                id=self.ctx.ids.new_id(), at=self.ctx.clock.now(), session_key=request.session_key, causation_id=cause,
                request_id=request_id, text=text, level="error",
            ))


def _outcome_event(outcome: Merged | Pushed | Discarded | Refusal, envelope: dict[str, Any], state: RepoState) -> Event:
    proposal, by = state.proposal, state.by
    match outcome:
        case Merged():
            return ChangesMerged(**envelope, branch=proposal.branch, into=proposal.base_branch, commit=outcome.commit,
                                 fast_forward=outcome.fast_forward, by=by, checkout=outcome.checkout)
        case Pushed():
            return ChangesPushed(**envelope, branch=proposal.branch, remote=outcome.remote, by=by, pr_url=outcome.pr_url,
                                 pr_number=outcome.pr_number, compare_url=outcome.compare_url, note=outcome.note)
        case Discarded():
            return ChangesDiscarded(**envelope, branches=outcome.branches, by=by)
        case Refusal():
            return ChangesRefused(**envelope, decision=state.decision, reason=outcome.reason[:1000], files=outcome.files[:100], by=by)  # type: ignore[arg-type]
