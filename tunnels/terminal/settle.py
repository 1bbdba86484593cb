"""When the orchestrator waits for the person again: what piped input waits on between lines.

A line sent to the orchestrator is settled once something was recorded because of it, an
answer it gave (to a plan, a question, a merge) has been decided, and the conversation waits for
the person: nothing open, or a plan, a clarification or a question waiting for an answer. Piped
input (`printf 'req\\nyes\\n' | tunnels chat`) sends its next line only then, and ends only then,
so a script's `yes` answers the plan it was written for, and the run it starts ends before the
process does.
"""

from __future__ import annotations

from collections.abc import Callable

from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import ChangesAnswered
from claude_tunnels.events.conversation import ConfirmationAnswered, ConfirmationGiven, PermissionAnswered

_ANSWERS = (ConfirmationAnswered, PermissionAnswered, ChangesAnswered)
"""Recorded for what the person said, then decided by a gate (which records an event caused by it)."""
_WAITING = ("idle", "awaiting_followup", "pending_plan_approval", "pending_confirmation")


def waits_for_person(orchestrator: OrchestratorPort, session_key: str) -> bool:
    """Whether nothing in the conversation is being worked on (it is idle or waits for an answer)."""
    state = orchestrator.sessions.get(session_key)
    if state.status in _WAITING:
        return True
    if state.status == "executing" and state.request is not None:
        request = orchestrator.requests.get(state.request.request_id)
        return request is not None and bool(request.pending_questions())
    return False


def open_request(orchestrator: OrchestratorPort, session_key: str) -> str | None:
    """The request the conversation still has open, if any."""
    request = orchestrator.sessions.get(session_key).request
    return request.request_id if request is not None else None


async def until(terminal: TerminalChannel, ready: Callable[[], bool]) -> None:
    """Return once `ready()` holds, checked now and after each event of the conversation."""
    if not ready():
        await terminal.watch(lambda _event: ready())


async def settled(terminal: TerminalChannel, message_id: str) -> None:
    """Return once the message `message_id` is settled (see the module's docstring)."""

    def caused_by(cause: str) -> list[AnyEvent]:
        return [event for event in terminal.events if event.causation_id == cause]

    def decided() -> bool:
        reactions = caused_by(message_id)
        if not reactions:
            return False
        for answer in (event for event in reactions if isinstance(event, _ANSWERS)):
            # "yes" is decided once the plan is approved (or refused), not at its first half.
            if not [event for event in caused_by(answer.id) if not isinstance(event, ConfirmationGiven)]:
                return False
        return waits_for_person(terminal.orchestrator, terminal.session_key)

    await until(terminal, decided)
