"""Shadow comparison: the challenger scores what the champion scores; how far apart are they? Pure.

Memory is bounded: totals are exact, distributions and latencies come from the most recent
``window`` scores and ``latency_window`` predict calls.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    mean: float | None
    p10: float | None
    p50: float | None
    p90: float | None
    positive_rate: float | None


@dataclass(frozen=True, slots=True)
class Latency:
    calls: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class ShadowReport:
    champion_version: str
    challenger_version: str
    rows: int
    errors: int  # challenger predict calls that raised
    agreement: float | None  # share of rows given the same label at the threshold
    mean_abs_diff: float | None
    max_abs_diff: float | None
    champion: Distribution
    challenger: Distribution
    champion_latency: Latency
    challenger_latency: Latency

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _distribution(scores: Iterable[float], threshold: float) -> Distribution:
    values = np.fromiter(scores, dtype="float64")
    if values.size == 0:
        return Distribution(0, None, None, None, None, None)
    p10, p50, p90 = (float(q) for q in np.quantile(values, [0.1, 0.5, 0.9]))
    return Distribution(int(values.size), float(values.mean()), p10, p50, p90, float((values >= threshold).mean()))


def _latency(ms: Iterable[float]) -> Latency:
    values = np.fromiter(ms, dtype="float64")
    if values.size == 0:
        return Latency(0, None, None)
    return Latency(int(values.size), float(np.quantile(values, 0.5)), float(np.quantile(values, 0.99)))


class ShadowComparison:
    """Accumulates paired scores; safe to feed from the worker and read from the event loop."""

    def __init__(
        self,
        champion_version: str,
        challenger_version: str,
        threshold: float,
        window: int = 10_000,
        latency_window: int = 2_000,
    ) -> None:
        self.champion_version, self.challenger_version, self.threshold = champion_version, challenger_version, threshold
        self._lock = threading.Lock()
        self._rows = self._agree = self._errors = 0
        self._abs_sum, self._abs_max = 0.0, 0.0
        self._champion: deque[float] = deque(maxlen=window)
        self._challenger: deque[float] = deque(maxlen=window)
        self._champion_ms: deque[float] = deque(maxlen=latency_window)
        self._challenger_ms: deque[float] = deque(maxlen=latency_window)

    def record(self, champion: np.ndarray, challenger: np.ndarray, champion_ms: float, challenger_ms: float) -> None:
        champion, challenger = np.asarray(champion, dtype="float64"), np.asarray(challenger, dtype="float64")
        if champion.shape != challenger.shape:
            raise ValueError(f"paired scores differ in shape: {champion.shape} vs {challenger.shape}")
        if champion.ndim == 2:  # multiclass: the same class chosen; the largest probability gap per row
            diff = np.abs(champion - challenger).max(axis=1, initial=0.0)
            agree = int((champion.argmax(axis=1) == challenger.argmax(axis=1)).sum())
            champion, challenger = champion.max(axis=1), challenger.max(axis=1)
        else:
            diff = np.abs(champion - challenger)
            agree = int(((champion >= self.threshold) == (challenger >= self.threshold)).sum())
        with self._lock:
            self._rows += champion.size
            self._agree += agree
            self._abs_sum += float(diff.sum())
            self._abs_max = max(self._abs_max, float(diff.max(initial=0.0)))
            self._champion.extend(champion.tolist())
            self._challenger.extend(challenger.tolist())
            self._champion_ms.append(champion_ms)
            self._challenger_ms.append(challenger_ms)

    def record_error(self) -> None:
        with self._lock:
            self._errors += 1

    def report(self) -> ShadowReport:
        with self._lock:
            rows, agree, errors = self._rows, self._agree, self._errors
            abs_sum, abs_max = self._abs_sum, self._abs_max
            champion, challenger = list(self._champion), list(self._challenger)
            champion_ms, challenger_ms = list(self._champion_ms), list(self._challenger_ms)
        return ShadowReport(
            champion_version=self.champion_version,
            challenger_version=self.challenger_version,
            rows=rows,
            errors=errors,
            agreement=agree / rows if rows else None,
            mean_abs_diff=abs_sum / rows if rows else None,
            max_abs_diff=abs_max if rows else None,
            champion=_distribution(champion, self.threshold),
            challenger=_distribution(challenger, self.threshold),
            champion_latency=_latency(champion_ms),
            challenger_latency=_latency(challenger_ms),
        )
