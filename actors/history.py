"""What earlier conversation a new request carries: one rule for every prompt.

The channel session decides it once, when it opens the request, and records it on
`RequestOpened.history`; the router, the planner and the direct answer all read that record, so
they see the same turns, and a replay sees what the agents saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from claude_tunnels.events.conversation import Turn
from claude_tunnels.projections.sessions import MAX_TURNS, SessionState

CUT = "…"


def request_history(
    state: SessionState, *, now: datetime, ttl_s: float, max_chars: int, max_turns: int = MAX_TURNS
) -> list[Turn]:
    """The turns a request opened `now` in this session gets as context.

    Only a conversation still going has any: the session awaits a follow-up (or the answer to
    its question) and was last active less than `ttl_s` (`limits.followup_ttl_s`) ago. Its turns
    are those since it last went quiet for longer (the session keeps no others). A clarified
    request repeats the text it clarifies, so that turn is not given twice; the question it
    answers is always given, as the last turn. At most `max_turns` turns and `max_chars`
    characters are given, the newest kept (`bound_turns`).
    """
    fresh = state.last_activity is not None and now - state.last_activity < timedelta(seconds=ttl_s)
    if state.status == "pending_confirmation":
        # The answer to a clarifying question: the request it clarifies is repeated in the new
        # request's text (the last turn), and the question, however late the answer, is the turn
        # the answer follows.
        earlier = state.turns[:-1] if fresh else ()
        asked = state.request.question if state.request is not None else None
        question = (Turn(role="assistant", text=asked),) if asked else ()
        return bound_turns((*earlier, *question), max_turns=max_turns, max_chars=max_chars)
    if not fresh or state.status != "awaiting_followup":
        return []
    return bound_turns(state.turns, max_turns=max_turns, max_chars=max_chars)


def bound_turns(turns: Sequence[Turn], *, max_turns: int, max_chars: int) -> list[Turn]:
    """The newest turns that fit: at most `max_turns` of them and `max_chars` characters of text.

    The oldest turn that does not fit whole is cut (its start kept, ending with `…`) when any room
    is left, and everything older is dropped.
    """
    kept: list[Turn] = []
    room = max_chars
    newest = list(turns)[-max_turns:] if max_turns > 0 else []
    for turn in reversed(newest):
        if len(turn.text) <= room:
            kept.append(turn)
            room -= len(turn.text)
            continue
        if room > len(CUT):
            kept.append(Turn(role=turn.role, text=turn.text[: room - len(CUT)] + CUT))
        break
    kept.reverse()
    return kept
