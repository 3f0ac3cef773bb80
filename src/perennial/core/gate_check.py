"""One check of the promotion gate, and how its numbers are written (shared by the gate's parts)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from perennial.core.evidence import Verdict


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str  # the comparison in words, e.g. "lift 0.01 < 0.05"
    inconclusive: bool = False  # too little evidence to judge: neither passed nor failed

    @property
    def verdict(self) -> Verdict:
        if self.inconclusive:
            return Verdict.INCONCLUSIVE
        return Verdict.PASSED if self.passed else Verdict.FAILED


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def at_least(value: float, floor: float, higher: bool) -> bool:
    """value is at least as good as floor (NaN is never good enough)."""
    return not math.isnan(value) and (value >= floor if higher else value <= floor)
