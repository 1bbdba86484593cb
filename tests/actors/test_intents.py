"""How short replies are understood."""

from __future__ import annotations

import pytest

from claude_tunnels.actors.intents import intent_of


@pytest.mark.parametrize(
    "text, intent",
    [
        ("Yes!", "approve"), ("ok 👍", "approve"), ("go ahead", "approve"), ("LGTM", "approve"), ("👍🏽", "approve"),
        ("yes, go ahead", "approve"), ("Sure.", "approve"),
        ("cancel", "cancel"), ("stop", "cancel"), ("No.", "cancel"), ("never mind", "cancel"), ("🛑", "cancel"),
        ("status", "status"), ("Status?", "status"),
        ("no, also update the docs", "text"), ("stop the flaky tests", "text"), ("yes but use v3", "text"),
        ("ok ok ok ok ok ok ok ok", "text"), ("", "text"),
    ],
)
def test_intent(text: str, intent: str) -> None:
    assert intent_of(text) == intent
