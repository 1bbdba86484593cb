"""How short replies are understood, as a table: what a message means before the state of the
conversation decides what it does (`test_channel_session` has that)."""

from __future__ import annotations

import pytest

from claude_tunnels.actors.intents import answers_a_plan, intent_of, permission_answer


@pytest.mark.parametrize(
    "text, intent",
    [
        ("Yes!", "approve"), ("ok 👍", "approve"), ("go ahead", "approve"), ("LGTM", "approve"), ("👍🏽", "approve"),
        ("yes, go ahead", "approve"), ("Sure.", "approve"),
        ("cancel", "cancel"), ("stop", "cancel"), ("No.", "cancel"), ("never mind", "cancel"), ("🛑", "cancel"),
        # Closing words: they drop what waits for an answer, and never stop a running request.
        ("done", "dismiss"), ("Done.", "dismiss"), ("I'm done", "dismiss"), ("no thanks", "dismiss"), ("No thank you!", "dismiss"),
        ("that's all", "dismiss"), ("That’s all", "dismiss"), ("nothing else", "dismiss"), ("not now", "dismiss"),
        ("drop the plan", "dismiss"),
        ("stop, that's all", "cancel"), ("never mind, that's it", "cancel"),  # a stop word makes it a stop
        ("status", "status"), ("Status?", "status"),
        ("no, also update the docs", "text"), ("stop the flaky tests", "text"), ("yes but use v3", "text"),
        ("done with the docs? then deploy", "text"), ("ok done", "text"), ("nothing works in web-app", "text"),
        ("ok ok ok ok ok ok ok ok", "text"), ("", "text"),
    ],
)
def test_intent(text: str, intent: str) -> None:
    assert intent_of(text) == intent


@pytest.mark.parametrize(
    "text, answers",
    [("yes", True), ("cancel", True), ("done", True), ("status", False), ("also update the docs", False)],
)
def test_what_answers_a_plan(text: str, answers: bool) -> None:
    assert answers_a_plan(intent_of(text)) is answers


@pytest.mark.parametrize(
    "text, allowed",
    [("allow", True), ("yes", True), ("deny", False), ("no", False), ("stop", None), ("done", None), ("run the tests", None)],
)
def test_permission_answers(text: str, allowed: bool | None) -> None:
    assert permission_answer(text) is allowed
