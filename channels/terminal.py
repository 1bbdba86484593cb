"""The terminal channel: one local conversation on stdin/stdout (the worked example of a channel).

A channel adapter only translates: what the person types becomes `message.received`; the events
of its session become lines of text. All conversation logic stays in the channel-session actor.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.channels.render import render, repeats_the_answer
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import MessageReceived


class TerminalChannel:
    """Connects one terminal conversation (`session_key = terminal:<user>`) to an orchestrator."""

    name = "terminal"

    def __init__(self, orchestrator: OrchestratorPort, user: str, *, out: TextIO = sys.stdout, show_progress: bool = True) -> None:
        self.orchestrator = orchestrator
        self.user = user
        self.session_key = f"terminal:{user}"
        self.out = out
        self.show_progress = show_progress
        self._count = 0
        self.events: list[AnyEvent] = []
        self._watchers: list[tuple[Callable[[AnyEvent], bool], asyncio.Future[AnyEvent]]] = []
        self._output_gone: OSError | None = None
        orchestrator.add_listener(self._on_event)

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        if event.session_key != self.session_key:
            return
        self.events.append(event)
        request = self.orchestrator.requests.get(getattr(event, "request_id", None) or "")
        if not isinstance(event, MessageReceived) and not repeats_the_answer(event, request):  # each reply once
            text = render(event, progress=self.show_progress)
            if text:
                self._write(text + "\n")
        for predicate, future in list(self._watchers):
            if not future.done() and predicate(event):
                future.set_result(event)

    def _write(self, text: str) -> None:
        if self._output_gone is not None:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except OSError as err:  # the reader went away (`tunnels demo | head`): whoever waits is told
            self._output_gone = err
            for _, future in list(self._watchers):
                if not future.done():
                    future.set_exception(err)

    async def say(self, text: str) -> None:
        """Send what the person typed (refused once nobody reads the output any more)."""
        if self._output_gone is not None:
            raise self._output_gone
        self._count += 1
        now = self.orchestrator.clock.now()
        await self.orchestrator.post_message(
            session_key=self.session_key, channel=self.name, sender=f"terminal:{self.user}", text=text,
            message_ref=f"{now.timestamp():.6f}-{self._count}", sent_at=now,
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
        self._write(f"claude-tunnels: talking as {self.user}. Type a request; /quit to leave.\n")
        while True:
            line = await asyncio.to_thread(stdin.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                return
            if line.strip():
                await self.say(line.rstrip("\n"))
