"""`tunnels chat` with standard input that is not a terminal: one line, one message.

Each line is sent once the orchestrator waits for the person again (`settle`), and the end of
input ends the chat only once nothing runs any more, so `printf 'req\\nyes\\n' | tunnels chat`
plans, approves, runs and reports before it exits. The lines are read by a daemon thread, so a
chat that leaves (`/quit`, Ctrl-C twice) never waits for a read that may never return.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, TextIO

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.tunnels.terminal.interrupts import Interrupts
from claude_tunnels.tunnels.terminal.settle import open_request, settled, until, waits_for_person

QUIT = ("/quit", "/exit")


def _reader(stdin: TextIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    try:
        for line in stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
    except (OSError, ValueError):
        pass
    finally:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            pass  # the loop closed first: nobody waits for the end any more


async def _or_leave(interrupts: Interrupts, work: asyncio.Future[Any]) -> bool:
    """Run `work` until done (True) or until the person leaves (False; `work` is cancelled)."""
    leave: asyncio.Future[Any] = asyncio.ensure_future(interrupts.leave.wait())
    done, _ = await asyncio.wait({work, leave}, return_when=asyncio.FIRST_COMPLETED)
    for future in (work, leave):
        if future not in done:
            future.cancel()
    if work in done:
        work.result()
        return True
    return False


async def run_lines(terminal: TerminalChannel, interrupts: Interrupts, stdin: TextIO = sys.stdin) -> None:
    """Send each line of `stdin` in turn; return at `/quit`, after the end of input once nothing
    runs, or when the person leaves (see `interrupts`)."""
    note = interrupts.note
    note(f"claude-tunnels: talking as {terminal.user}. Type a request; /quit to leave.")
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_reader, args=(stdin, asyncio.get_running_loop(), queue), name="chat input", daemon=True).start()
    orchestrator, key = terminal.orchestrator, terminal.session_key
    while True:
        next_line = asyncio.ensure_future(queue.get())
        if not await _or_leave(interrupts, next_line):
            return
        line = next_line.result()
        if line is None:  # end of input: the chat ends once the orchestrator waits for nobody
            if not await _or_leave(interrupts, asyncio.ensure_future(until(terminal, lambda: waits_for_person(orchestrator, key)))):
                return
            if (request_id := open_request(orchestrator, key)) is not None:
                note(f"(end of input: request {request_id} still waits for an answer; `tunnels chat` to give it)")
            return
        text = line.rstrip("\n")
        if text.strip() in QUIT:
            return
        if not text.strip():
            continue
        interrupts.reset()
        appended = await terminal.say(text)
        message_id = (await orchestrator.stored(appended.seq)).event.id
        if not await _or_leave(interrupts, asyncio.ensure_future(settled(terminal, message_id))):
            return
