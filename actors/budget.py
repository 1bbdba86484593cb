"""The request's cost: what a call that failed charges, whether another phase may start, and how a stop is told. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from claude_tunnels.events.values import Usage, usd


def charged(spent: Usage | None) -> Usage | None:
    """What an event records a failed call as costing: `spent`, or None when it cost nothing."""
    return spent if spent is not None and spent != Usage() else None


def is_spent(spent_usd: float, budget_usd: float | None) -> bool:
    """Whether a request that has cost `spent_usd` may start no further phase (None: no budget)."""
    return budget_usd is not None and spent_usd >= budget_usd


def not_run_reason(budget_usd: float, spent_usd: float) -> str:
    """Why a task was not run: `the request's cost budget of $1.00 is spent ($1.23 so far)`."""
    return f"the request's cost budget of {usd(budget_usd)} is spent ({usd(spent_usd)} so far)"


def stop_text(phase: int, budget_usd: float, spent_usd: float, not_run: Sequence[str]) -> str:
    """What the person is told: `stopped before phase 3: <reason>; not run: a/x, b/y`."""
    return f"stopped before phase {phase}: {not_run_reason(budget_usd, spent_usd)}; not run: {', '.join(not_run)}"
