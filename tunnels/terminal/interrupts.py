"""What Ctrl-C means in `tunnels chat`: cancel what runs, then leave.

The first Ctrl-C while a request is being planned or run asks the orchestrator to cancel it
(recorded as a person typing `cancel` would: the task ends `task.cancelled`, the request
`request.cancelled`) and says so in one line; with nothing running it says how to leave. A
second Ctrl-C in a row leaves. Anything typed in between starts the count again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from claude_tunnels.channels.terminal import TerminalChannel

_RUNNING = ("planning", "executing")


class Interrupts:
    """Counts Ctrl-C presses for one terminal; `note` prints a line of the chat's own."""

    def __init__(self, terminal: TerminalChannel, note: Callable[[str], None]) -> None:
        self.terminal = terminal
        self.note = note
        self.leave = asyncio.Event()
        """Set by the press that means: leave now."""
        self._pressed = False

    def reset(self) -> None:
        """The person typed something: the next Ctrl-C is a first one again."""
        self._pressed = False

    def press(self) -> bool:
        """One Ctrl-C; True when it means leave (and `leave` is set)."""
        if self._pressed:
            self.leave.set()
            return True
        self._pressed = True
        orchestrator, key = self.terminal.orchestrator, self.terminal.session_key
        state = orchestrator.sessions.get(key)
        if state.status in _RUNNING and state.request is not None:
            request_id = state.request.request_id
            self.note(f"^C cancelling request {request_id}… (Ctrl-C again to leave)")
            orchestrator.background.start(
                self.terminal.say("cancel", action="cancel", request_id=request_id), name="terminal cancel",
            )
        else:
            self.note("^C (Ctrl-C again, Ctrl-D or /quit to leave)")
        return False
