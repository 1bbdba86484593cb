"""The terminal channel: one local conversation on stdin/stdout (the worked example of a channel).

A channel adapter only translates: what the person types becomes `message.received`; the events
of its session become lines of text. All conversation logic stays in the channel-session actor.

With `confirms` (what `tunnels chat` does), it works like the chat channels across a restart:
each reply it prints is confirmed with `reply.posted`, and when it starts (attached to an
orchestrator before anything reacts: `Orchestrator(channels=...)`) it first prints the replies of
its conversation that were recorded but never printed (the outcome of a request that ended while
no terminal was attached), then the plan still waiting for an answer, or a relayed question.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

from claude_tunnels.channels.base import LATE_PLAN_NOTE, LATE_QUESTION_NOTE
from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.channels.render import plan_text, render, repeats_the_answer
from claude_tunnels.events.catalogue import CHAT_REPLIES, AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested, MessageReceived, ReplyPosted
from claude_tunnels.events.execution import PermissionRequested
from claude_tunnels.events.log import Appended

RESEND_WITHIN_S = 24 * 3600
"""How old a reply never printed may be and still be printed when a terminal attaches."""


class TerminalChannel:
    """Connects one terminal conversation (`session_key = terminal:<user>`) to an orchestrator."""

    name = "terminal"

    def __init__(
        self, orchestrator: OrchestratorPort, user: str, *, out: TextIO = sys.stdout, show_progress: bool = True,
        confirms: bool = False,
    ) -> None:
        self.orchestrator = orchestrator
        self.user = user
        self.session_key = f"terminal:{user}"
        self.out = out
        self.show_progress = show_progress
        self.confirms = confirms
        self._count = 0
        self.events: list[AnyEvent] = []
        self._watchers: list[tuple[Callable[[AnyEvent], bool], asyncio.Future[AnyEvent]]] = []
        self._held: list[str] | None = [] if confirms else None  # lines held back while what was due is printed
        self._asked: set[str] = set()  # plans (request ids) and questions (permission ids) printed since attaching
        self._output_gone: OSError | None = None
        # Both in one step, with no await between: a reply folded before it is in the snapshot of
        # what is due, one folded after it reaches the listener, and none does both.
        orchestrator.add_listener(self._on_event)
        state = orchestrator.sessions.get(self.session_key)
        since = orchestrator.clock.now() - timedelta(seconds=RESEND_WITHIN_S)
        self._due = [p.seq for p in state.unposted if p.at >= since] if confirms else []

    async def start(self) -> None:
        """Print what was due and never printed, then what still waits for the person."""
        if not self.confirms:
            return
        for seq in self._due:
            try:
                stored = await self.orchestrator.stored(seq)
            except LookupError:
                continue  # aged out of the stream
            self._print(stored.event, late=True)
        self._print_waiting()
        held, self._held = self._held or [], None
        self._write(*held)

    async def stop(self) -> None:
        """Nothing to stop: the terminal's input loop is the caller's."""

    def owns(self, session_key: str) -> bool:
        """Whether the conversation is this terminal's."""
        return session_key == self.session_key

    async def notify(self, session_key: str, text: str) -> None:
        """Print `text` now, unrecorded (the event store is unreachable)."""
        if self.owns(session_key):
            self._write(text)

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        if event.session_key != self.session_key:
            return
        self.events.append(event)
        if not isinstance(event, (MessageReceived, ReplyPosted)):
            self._print(event)
        for predicate, future in list(self._watchers):
            if not future.done() and predicate(event):
                future.set_result(event)

    def _print(self, event: AnyEvent, *, late: bool = False) -> None:
        """Print `event` (`late`: a reply due before this terminal attached; a question comes with its plan)."""
        request_id = getattr(event, "request_id", None) or ""
        # Each reply once: an ending that repeats a direct answer is not printed (still confirmed posted).
        repeated = repeats_the_answer(event, self.orchestrator.requests.get(request_id))
        text = "" if repeated else render(event, progress=self.show_progress)
        if text:
            if isinstance(event, PermissionRequested):
                self._asked.add(event.permission_id)
            if isinstance(event, ConfirmationRequested):
                self._asked.add(event.request_id or "")
                request = self.orchestrator.requests.get(event.request_id or "")
                if late and request is not None and request.plan is not None:
                    closed = request.status != "awaiting_approval"
                    text = f"{plan_text(request.plan, request.request_id)}\n{LATE_PLAN_NOTE if closed else text}"
            if late and isinstance(event, PermissionRequested):
                request = self.orchestrator.requests.get(event.request_id)
                question = request.questions.get(event.permission_id) if request is not None else None
                if question is None or question.decided:
                    text = f"{text}\n{LATE_QUESTION_NOTE}"
            self._write(text)
        if self.confirms and isinstance(event, CHAT_REPLIES):
            self.orchestrator.background.start(
                self.orchestrator.record_reply(event, channel=self.name, chat_ref=f"terminal:{event.id}"), name="terminal reply posted",
            )

    def _print_waiting(self) -> None:
        """The plan waiting for approval, or the questions waiting for an answer, once more."""
        state = self.orchestrator.sessions.get(self.session_key)
        active = state.request
        request = self.orchestrator.requests.get(active.request_id) if active is not None else None
        if active is None or request is None:
            return
        waiting = state.status == "pending_plan_approval" and request.status == "awaiting_approval"
        if waiting and request.plan is not None and active.expires_at is not None and request.request_id not in self._asked:
            self._write(
                f"{plan_text(request.plan, request.request_id)}\nStill waiting for your answer: reply yes to run it, cancel to "
                f"drop it, or describe what to change. (Expires at {active.expires_at:%H:%M} UTC.)"
            )
        for question in request.pending_questions():
            if question.permission_id not in self._asked:
                self._write(
                    f"❓ Still waiting: {question.workspace} asks to use {question.tool}: {question.detail}\n"
                    f"Why I ask: {question.reason}.\nAllow or deny?"
                )

    def _write(self, *lines: str) -> None:
        if self._held is not None:
            self._held.extend(lines)  # after what was due, in order
            return
        if self._output_gone is not None:
            return
        try:
            for text in lines:
                self.out.write(text + "\n")
            self.out.flush()
        except OSError as err:  # the reader went away (`tunnels demo | head`): whoever waits is told
            self._output_gone = err
            for _, future in list(self._watchers):
                if not future.done():
                    future.set_exception(err)

    async def say(self, text: str, *, action: str | None = None, request_id: str | None = None) -> Appended:
        """Send what the person typed (`action`: what a button would mean, e.g. `cancel` of
        `request_id`); refused once nobody reads the output any more."""
        if self._output_gone is not None:
            raise self._output_gone
        self._count += 1
        now = self.orchestrator.clock.now()
        return await self.orchestrator.post_message(
            session_key=self.session_key, channel=self.name, sender=f"terminal:{self.user}", text=text,
            message_ref=f"{now.timestamp():.6f}-{self._count}", sent_at=now, action=action, request_id=request_id,
        )

    def watch(self, predicate: Callable[[AnyEvent], bool]) -> asyncio.Future[AnyEvent]:
        """A future for the next event of this session matching `predicate` (watching from now);
        it fails with the write's error if the output's reader goes away first."""
        future: asyncio.Future[AnyEvent] = asyncio.get_running_loop().create_future()
        if self._output_gone is not None:
            future.set_exception(self._output_gone)
            return future
        entry = (predicate, future)
        self._watchers.append(entry)
        future.add_done_callback(lambda _: self._watchers.remove(entry))
        return future

    async def run_interactive(self, stdin: TextIO = sys.stdin) -> None:
        """Read lines until end of input or `/quit`."""
        self._write(f"claude-tunnels: talking as {self.user}. Type a request; /quit to leave.")
        while True:
            line = await asyncio.to_thread(stdin.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                return
            if line.strip():
                await self.say(line.rstrip("\n"))
