"""Which earlier turns a new request carries (one rule for router, planner and direct answer), as tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from claude_tunnels.actors.history import bound_turns, request_history
from claude_tunnels.events.conversation import Turn
from claude_tunnels.projections.sessions import MAX_TURNS, ActiveRequest, SessionState, SessionStatus
from tests.factories import T0

TTL_S = 1800.0


def user(text: str) -> Turn:
    return Turn(role="user", text=text)


def bot(text: str) -> Turn:
    return Turn(role="assistant", text=text)


TALK = (user("fix the login"), bot("Login fixed."), user("add a test"), bot("Test added."))


@pytest.mark.parametrize(
    ("status", "quiet_s", "expected"),
    [
        ("awaiting_followup", 60, list(TALK)),
        ("awaiting_followup", TTL_S - 1, list(TALK)),
        ("awaiting_followup", TTL_S, []),  # the window is over: nothing older reaches any prompt
        ("awaiting_followup", 86_400, []),
        ("pending_confirmation", 60, list(TALK[:-1])),  # the clarified request repeats its own text
        ("pending_confirmation", TTL_S + 1, []),
        ("idle", 60, []),
        ("planning", 60, []),
        ("executing", 60, []),
        ("pending_plan_approval", 60, []),
    ],
)
def test_request_history(status: SessionStatus, quiet_s: float, expected: list[Turn]) -> None:
    state = SessionState(key="terminal:alice", status=status, turns=TALK, last_activity=T0)
    now = T0 + timedelta(seconds=quiet_s)
    assert request_history(state, now=now, ttl_s=TTL_S, max_chars=16_000) == expected


@pytest.mark.parametrize(("quiet_s", "expected"), [(60, [*TALK[:-1], bot("Which app?")]), (TTL_S + 1, [bot("Which app?")])])
def test_an_answer_to_a_question_carries_the_question_however_late(quiet_s: float, expected: list[Turn]) -> None:
    # The clarified request is reopened in the person's words; the bot's question is a turn.
    asked = ActiveRequest(request_id="R1", text="add a test", requester="terminal:alice", channel="terminal", opened_at=T0,
                          question="Which app?")
    state = SessionState(key="terminal:alice", status="pending_confirmation", request=asked, turns=TALK, last_activity=T0)
    assert request_history(state, now=T0 + timedelta(seconds=quiet_s), ttl_s=TTL_S, max_chars=16_000) == expected


def test_a_session_never_active_has_no_history() -> None:
    state = SessionState(key="terminal:alice", status="awaiting_followup", turns=TALK)
    assert request_history(state, now=T0, ttl_s=TTL_S, max_chars=16_000) == []


@pytest.mark.parametrize(
    ("turns", "max_turns", "max_chars", "expected"),
    [
        ((), 10, 100, []),
        (TALK, 10, 1000, list(TALK)),
        (TALK, 2, 1000, [user("add a test"), bot("Test added.")]),  # the newest kept
        (TALK, 0, 1000, []),
        # "Test added." (11) + "add a test" (10) fit in 25; 4 characters are left for the next one.
        (TALK, 10, 25, [bot("Log…"), user("add a test"), bot("Test added.")]),
        (TALK, 10, 22, [user("add a test"), bot("Test added.")]),  # 1 left: no room for a cut turn
        (TALK, 10, 11, [bot("Test added.")]),
        (TALK, 10, 6, [bot("Test …")]),  # the newest turn alone is too long: its start is kept
        ((user("x" * 5000),), 10, 100, [user("x" * 99 + "…")]),
    ],
)
def test_bound_turns(turns: tuple[Turn, ...], max_turns: int, max_chars: int, expected: list[Turn]) -> None:
    kept = bound_turns(turns, max_turns=max_turns, max_chars=max_chars)
    assert kept == expected
    assert len(kept) <= max_turns and sum(len(turn.text) for turn in kept) <= max_chars


def test_history_is_bounded_by_turns_and_characters() -> None:
    turns = tuple(user(f"{n:04d}" * 500) for n in range(MAX_TURNS + 5))  # 2000 characters each
    state = SessionState(key="terminal:alice", status="awaiting_followup", turns=turns, last_activity=T0)
    kept = request_history(state, now=T0, ttl_s=TTL_S, max_chars=5000)
    assert [turn.text[:4] for turn in kept] == ["0012", "0013", "0014"]
    assert kept[0].text.endswith("…") and sum(len(turn.text) for turn in kept) == 5000
