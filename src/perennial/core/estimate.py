"""A figure with its interval: its own module so that light readers (the monitor store, `perennial status`)
need not import scikit-learn and scipy with core/metrics.py, which computes them."""

from __future__ import annotations

from typing import NamedTuple


class Estimate(NamedTuple):
    value: float
    low: float
    high: float
