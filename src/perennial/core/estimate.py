"""A figure with its interval: its own module so that light readers (the monitor store, `perennial status`)
need not import scikit-learn and scipy with core/metrics.py, which computes them."""

from __future__ import annotations

from typing import NamedTuple


class Estimate(NamedTuple):
    value: float
    low: float
    high: float

    def reach(self, higher_is_better: bool) -> float:
        """How far the interval reaches from the figure towards a better one: its high end's distance for a
        score, its low end's for a loss (what a drop's "sure" bound weighs)."""
        return self.high - self.value if higher_is_better else self.value - self.low
