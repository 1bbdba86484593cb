"""The request's cost budget as tables: when no further phase starts, and what the person reads."""

from __future__ import annotations

import pytest

from claude_tunnels.actors.budget import is_spent, not_run_reason, stop_text
from claude_tunnels.events.values import usd


@pytest.mark.parametrize(
    "spent, budget, stops",
    [
        (0.0, None, False),  # no budget: never
        (99.0, None, False),
        (0.0, 1.0, False),
        (0.99, 1.0, False),
        (1.0, 1.0, True),  # reached counts as spent
        (1.23, 1.0, True),
        (0.011, 0.01, True),
    ],
)
def test_a_budget_is_spent_once_the_total_reaches_it(spent: float, budget: float | None, stops: bool) -> None:
    assert is_spent(spent, budget) is stops


@pytest.mark.parametrize(
    "amount, text",
    [
        (0.0, "$0.00"), (1.0, "$1.00"), (1.234, "$1.23"), (0.42, "$0.42"), (0.1, "$0.10"), (1234.5, "$1,234.50"),
        (0.01, "$0.01"), (0.05, "$0.05"), (0.0103, "$0.0103"), (0.021228, "$0.0212"), (0.0001, "$0.0001"),
    ],
)
def test_amounts_read_as_dollars_and_small_ones_keep_their_cents(amount: float, text: str) -> None:
    assert usd(amount) == text


def test_the_stop_names_the_phase_the_budget_the_total_and_the_tasks_not_run() -> None:
    assert not_run_reason(1.0, 1.234) == "the request's cost budget of $1.00 is spent ($1.23 so far)"
    assert stop_text(3, 1.0, 1.234, ["a/x", "b/y"]) == (
        "stopped before phase 3: the request's cost budget of $1.00 is spent ($1.23 so far); not run: a/x, b/y"
    )
