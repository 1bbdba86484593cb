"""Shared helpers of the benchmark scripts: imports from a checkout, medians, one table.

Files whose name starts with `_` are helpers: `bench/run_all.py` does not run them.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # The scripts import `tests.factories` from the checkout (it is not an installed package).
    sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    """One measured figure: per-round rates (events/s) of the baseline and of ours."""

    name: str
    baseline: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    aim: float | None = None

    def ratio(self) -> float | None:
        if not self.baseline or not self.ours:
            return None
        return statistics.median(self.ours) / statistics.median(self.baseline)


def _rate(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):>10,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def print_table(title: str, rows: Sequence[Row], rounds: int) -> None:
    """Medians (with the min-max spread over rounds) of events/s, and the ratio ours/baseline."""
    print(f"\n{title}: median events/s over {rounds} rounds (min-max in brackets)")
    name_w = max(len(row.name) for row in rows)
    header = f"{'measurement':<{name_w}}  {'baseline':>31}  {'ours':>31}  {'ours/base':>9}  {'aim':>6}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row.ratio()
        verdict = ""
        if ratio is not None and row.aim is not None:
            verdict = "ok" if ratio >= row.aim else "UNDER"
        print(
            f"{row.name:<{name_w}}  {_rate(row.baseline):>31}  {_rate(row.ours):>31}  "
            f"{'-' if ratio is None else f'{ratio:.2f}':>9}  "
            f"{'' if row.aim is None else f'>={row.aim:.1f}':>6} {verdict}"
        )
