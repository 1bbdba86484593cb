"""What every chat channel shares: inbound recording, per-conversation outbound order, the status message.

A chat channel only translates. Inbound, `receive()` records `message.received` (the same chat
message twice is stored once) — call it *before* acknowledging the chat. Outbound, the events of
the channel's sessions are rendered (`channels.render`) and posted by the subclass, in order per
conversation, without one slow chat holding up another. Progress goes into one status message
per request, edited at most every `status_interval_s`.

Nothing a person should read is lost to a crash or a chat outage: each chat reply
(`CHAT_REPLIES`) is confirmed with `reply.posted` once posted. A channel that starts posts first,
in each of its conversations, the replies of the last `resend_within_s` that were recorded but
never confirmed; while it runs, it posts again every `retry_unconfirmed_s` the ones the chat
refused (at least once: a crash between posting and confirming posts that one reply twice).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import ClassVar

from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.channels.render import plan_text, question_text, render, repeats_the_answer
from claude_tunnels.channels.status import status_text
from claude_tunnels.events.catalogue import CHAT_REPLIES, REQUEST_ENDED, TASK_ENDED, AnyEvent
from claude_tunnels.events.changes import ChangesDiscarded, ChangesMerged, ChangesProposed, ChangesPushed
from claude_tunnels.events.conversation import ConfirmationGiven, ConfirmationRequested, MessageReceived, ReplyPosted
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseCompleted,
    PhaseStarted,
    WorkspaceProgress,
    WorkspaceTaskDispatched,
    WorkspaceTaskStarted,
)
from claude_tunnels.events.log import Appended
from claude_tunnels.events.planning import PlanApproved, PlanProposed
from claude_tunnels.projections.changes import WAITING

log = logging.getLogger(__name__)

LATE_PLAN_NOTE = "(Posted late: this plan no longer waits for an answer.)"
LATE_QUESTION_NOTE = "(Posted late: this question is closed.)"

CHANGES_SETTLED: tuple[type, ...] = (ChangesMerged, ChangesPushed, ChangesDiscarded)
"""After these, a proposal's Merge / Open PR / Discard buttons go once no repository waits any more."""
STATUS_EVENTS: tuple[type, ...] = (PhaseStarted, PhaseCompleted, WorkspaceTaskDispatched, WorkspaceTaskStarted, WorkspaceProgress, *TASK_ENDED)
"""Events shown only by editing the request's status message."""


class ChatChannel(ABC):
    """Base of the Slack and Telegram channels (the terminal channel is simpler: it only prints)."""

    name: ClassVar[str]
    status_interval_s: float = 1.0
    resend_within_s: float = 24 * 3600
    """How old an unconfirmed reply may be and still be posted after a restart."""
    retry_unconfirmed_s: float = 60.0
    """While running, how often replies the chat refused are tried again."""
    max_attempts: int = 5
    """How often one reply is tried in one run; after that it waits for the next start."""

    def __init__(self, orchestrator: OrchestratorPort) -> None:
        self.orchestrator = orchestrator
        self._queues: dict[str, asyncio.Queue[tuple[int, AnyEvent | _StatusTick | _Resend]]] = {}
        self._queued: set[int] = set()  # stream sequences of replies queued or being posted
        self._failures: dict[int, int] = {}  # failed attempts per reply (stream sequence) in this run
        self._workers: dict[str, asyncio.Future[None]] = {}
        self._status_refs: dict[str, str] = {}
        self._status_due: dict[str, asyncio.TimerHandle] = {}
        self._status_last: dict[str, float] = {}
        self._closed = False
        # Both in one step, with no await between: a reply folded before it is in the snapshot of
        # unconfirmed replies, one folded after it reaches the listener, and none does both.
        orchestrator.add_listener(self._on_event)
        self._queue_unconfirmed()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # built outside a loop (a check of its settings): nothing to post
            self._retries: asyncio.Future[None] | None = None
        else:
            self._retries = orchestrator.background.start(self._retry_unconfirmed(), name=f"{self.name} retries")

    # -- for subclasses ----------------------------------------------------------------------

    @abstractmethod
    async def post(
        self, session_key: str, text: str, *, approval_for: str | None = None, question_for: tuple[str, str] | None = None,
        changes_for: tuple[str, list[str]] | None = None,
    ) -> str:
        """Post a new message in the conversation; with `approval_for`, add Approve/Cancel
        buttons for that request; with `question_for` (request id, permission id), Allow/Deny
        buttons for that permission question; with `changes_for` (request id, repositories),
        Merge / Open PR / Discard buttons for each repository of that request's changes. Return
        the chat's reference to the message."""

    @abstractmethod
    async def edit(self, session_key: str, ref: str, text: str) -> None:
        """Replace the text of a message posted earlier."""

    async def notify(self, session_key: str, text: str) -> None:
        """Post `text` now, unrecorded (the event store is unreachable: `tunnels.runtime.outage`)."""
        await self.post(session_key, text)

    async def receive(
        self, *, session_key: str, sender: str, text: str, message_ref: str, sent_at: datetime,
        sender_name: str = "", action: str | None = None, request_id: str | None = None, permission_id: str | None = None,
        repo: str | None = None,
    ) -> Appended:
        """Record what a person sent (idempotent per `message_ref`)."""
        return await self.orchestrator.post_message(
            session_key=session_key, channel=self.name, sender=sender, text=text, message_ref=message_ref,
            sender_name=sender_name, action=action, request_id=request_id, permission_id=permission_id, sent_at=sent_at,
            repo=repo,
        )

    async def close(self) -> None:
        """Stop the outbound workers (subclasses stop their connection, then call this)."""
        self._closed = True
        if self._retries is not None:
            self._retries.cancel()
        for handle in self._status_due.values():
            handle.cancel()
        for worker in self._workers.values():
            worker.cancel()
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=5)

    # -- outbound ----------------------------------------------------------------------------

    def owns(self, session_key: str) -> bool:
        """Whether the conversation belongs to this channel."""
        return session_key.startswith(f"{self.name}:")

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        if self._closed or not self.owns(event.session_key) or isinstance(event, (MessageReceived, ReplyPosted)):
            return
        if isinstance(event, CHAT_REPLIES):
            self._queued.add(seq)
        self._enqueue(event.session_key, event, seq)

    def _enqueue(self, session_key: str, item: AnyEvent | _StatusTick | _Resend, seq: int = 0) -> None:
        queue = self._queues.get(session_key)
        if queue is None:
            queue = self._queues[session_key] = asyncio.Queue()
            work = self._work(session_key, queue)
            self._workers[session_key] = self.orchestrator.background.start(work, name=f"{self.name} outbox {session_key}")
        queue.put_nowait((seq, item))

    def _queue_unconfirmed(self, older_than_s: float = 0.0) -> None:
        """Queue the unconfirmed replies of this channel's conversations that are not queued yet."""
        now = self.orchestrator.clock.now()
        since, until = now - timedelta(seconds=self.resend_within_s), now - timedelta(seconds=older_than_s)
        for session_key, state in self.orchestrator.sessions.sessions.items():
            seqs = [
                p.seq for p in state.unposted
                if since <= p.at <= until and p.seq not in self._queued and self._failures.get(p.seq, 0) < self.max_attempts
            ]
            if seqs and self.owns(session_key):
                log.info("%s: posting %d unconfirmed reply(ies) again in %s", self.name, len(seqs), session_key)
                self._queued.update(seqs)
                self._enqueue(session_key, _Resend(session_key, seqs))

    async def _retry_unconfirmed(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.retry_unconfirmed_s)  # a periodic check, not a synchronisation
            self._queue_unconfirmed(older_than_s=self.retry_unconfirmed_s)

    async def _work(self, session_key: str, queue: asyncio.Queue[tuple[int, AnyEvent | _StatusTick | _Resend]]) -> None:
        while True:
            seq, item = await queue.get()
            try:
                await self._deliver(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Only logged: the reply stays unconfirmed and is posted again (the module's docstring).
                log.exception("%s: could not deliver %s to %s", self.name, item.type, session_key)
                self._count_failure(item.current if isinstance(item, _Resend) else seq)
            finally:
                self._queued.discard(seq)
                if isinstance(item, _Resend):
                    self._queued.difference_update(item.seqs)

    def _count_failure(self, seq: int) -> None:
        if not seq:
            return  # not a reply (a status edit)
        self._failures[seq] = failures = self._failures.get(seq, 0) + 1
        if failures == self.max_attempts:
            log.error("%s: reply %d failed %d times; the next start tries it again", self.name, seq, failures)

    async def _deliver(self, item: AnyEvent | _StatusTick | _Resend) -> None:
        if isinstance(item, _StatusTick):
            await self._refresh_status(item.session_key, item.request_id)
        elif isinstance(item, _Resend):
            for seq in item.seqs:
                item.current = seq
                try:
                    stored = await self.orchestrator.stored(seq)
                except LookupError:
                    continue  # aged out of the stream
                await self._deliver(stored.event)
        else:
            ref = await self._show(item)
            if isinstance(item, CHAT_REPLIES):
                await self.orchestrator.record_reply(item, channel=self.name, chat_ref=ref or "")

    async def _show(self, event: AnyEvent) -> str | None:
        """Post or schedule what `event` shows; the chat's reference of a message it posted.

        Subclasses extend this (not `_deliver`), so whatever they show is confirmed the same way."""
        request_id = getattr(event, "request_id", None)
        if isinstance(event, STATUS_EVENTS):
            self._schedule_status(event.session_key, request_id or "")
            return None
        if isinstance(event, PlanProposed):
            return None  # shown with the question that follows (or the automatic approval)
        if isinstance(event, ConfirmationRequested):
            request = self.orchestrator.requests.get(request_id or "")
            plan = plan_text(request.plan, request.request_id) if request and request.plan else ""
            if request is not None and request.status != "awaiting_approval":
                # Posted late (the chat refused it, or a restart): the question is closed by now.
                return await self.post(event.session_key, f"{plan}\n\n{LATE_PLAN_NOTE}" if plan else LATE_PLAN_NOTE)
            text = f"{plan}\n\n{render(event)}" if plan else (render(event) or "")
            return await self.post(event.session_key, text, approval_for=request_id)
        if isinstance(event, ConfirmationGiven) and event.auto:
            request = self.orchestrator.requests.get(request_id or "")
            if request is not None and request.plan is not None:
                return await self.post(event.session_key, f"{plan_text(request.plan, request.request_id)}\n\nApproved automatically.")
            return None
        if isinstance(event, PlanApproved):
            self._schedule_status(event.session_key, event.request_id or "", at_once=True)
            return None
        if isinstance(event, PermissionRequested):
            return await self._ask(event)
        if isinstance(event, ChangesProposed):
            return await self._propose(event)
        if isinstance(event, PermissionDecided):
            self._schedule_status(event.session_key, event.request_id)
            if not event.permission_id:
                return None  # the policy's own decisions show in the status message
            return await self.post(event.session_key, render(event) or "")
        if repeats_the_answer(event, self.orchestrator.requests.get(request_id or "")):
            return None  # the direct answer was the reply
        rendered = render(event, progress=False)
        ref = await self.post(event.session_key, rendered) if rendered else None
        if request_id and isinstance(event, REQUEST_ENDED):
            await self._refresh_status(event.session_key, request_id, final=True)
        return ref

    async def _ask(self, event: PermissionRequested) -> str:
        """Post a relayed permission question with Allow/Deny buttons (none once it is closed)."""
        request = self.orchestrator.requests.get(event.request_id)
        question = request.questions.get(event.permission_id) if request else None
        if question is None or question.decided or request is None or request.status != "executing":
            return await self.post(event.session_key, f"{question_text(event)}\n{LATE_QUESTION_NOTE}")
        return await self.post(event.session_key, question_text(event), question_for=(event.request_id, event.permission_id))

    async def _propose(self, event: ChangesProposed) -> str:
        """Post a request's changes with Merge / Open PR / Discard buttons for each repository that
        still waits for a person (none when `git.on_success` decides, or it was decided already)."""
        request = self.orchestrator.requests.get(event.request_id)
        waiting = [label for label, state in (request.changes.items() if request else ()) if state.status == "open"]
        text = render(event) or ""
        if event.automatic is not None or not waiting:
            return await self.post(event.session_key, text)
        return await self.post(event.session_key, text, changes_for=(event.request_id, waiting))

    def changes_settled(self, request_id: str) -> bool:
        """Whether no repository of the request's changes waits for a decision any more."""
        request = self.orchestrator.requests.get(request_id)
        return request is None or all(state.status not in WAITING for state in request.changes.values())

    # -- the status message ------------------------------------------------------------------

    def _schedule_status(self, session_key: str, request_id: str, *, at_once: bool = False) -> None:
        if not request_id or request_id in self._status_due:
            return  # an edit is already scheduled; it will show the latest state
        loop = asyncio.get_running_loop()
        wait = 0.0 if at_once else max(0.0, self._status_last.get(request_id, 0.0) + self.status_interval_s - loop.time())
        queue = self._queues[session_key]

        def due() -> None:
            self._status_due.pop(request_id, None)
            queue.put_nowait((0, _StatusTick(session_key, request_id)))

        self._status_due[request_id] = loop.call_later(wait, due)

    async def _refresh_status(self, session_key: str, request_id: str, *, final: bool = False) -> None:
        request = self.orchestrator.requests.get(request_id)
        if request is None or request.plan is None:
            return
        self._status_last[request_id] = asyncio.get_running_loop().time()
        text = status_text(request)
        ref = self._status_refs.get(request_id)
        if ref is None:
            if final:
                return  # never posted: the final message says it all
            self._status_refs[request_id] = await self.post(session_key, text)
        else:
            await self.edit(session_key, ref, text)
        if final:
            self._status_refs.pop(request_id, None)
            handle = self._status_due.pop(request_id, None)
            if handle:
                handle.cancel()


class _Resend:
    """Queued first in a conversation at start: replies (stream sequences) to post again."""

    type = "replies.resend"

    def __init__(self, session_key: str, seqs: list[int]) -> None:
        self.session_key = session_key
        self.seqs = seqs
        self.current = 0
        """The reply being posted (the one that failed, if posting raises)."""


class _StatusTick:
    """Queued when a request's status message is due for an edit."""

    type = "status.tick"

    def __init__(self, session_key: str, request_id: str) -> None:
        self.session_key = session_key
        self.request_id = request_id
