"""How far Evidently's distance statistics move from sampling alone, at a window's size.

Evidently's tests for a large reference are distances against fixed thresholds (Wasserstein 0.1 of a std,
Jensen-Shannon 0.1) that ignore how many rows the window holds. On a small window a column with many
values is "drifted" by chance: a 380-code column had a Jensen-Shannon distance of 0.35 on 500 rows drawn
from the training table itself. The noise here is the statistic's 99th percentile between two samples of
the reference's and the window's sizes, both drawn from the reference's own distribution (a parametric
bootstrap, seeded by the column's name so a verdict is reproducible). A distance at or below it is what
sampling alone would show, so it is not counted as drift. The p-value tests (K-S, chi-square, Z) account
for the sample sizes already and get no noise.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.spatial import distance

from perennial.core.drift import stattests
from perennial.core.drift.reference import NumericReference

QUANTILE = 0.99
DRAWS = 200
# numeric draws are capped at this many rows a side and the distance scaled by sqrt(1/n + 1/m), as the
# Wasserstein distance between two samples shrinks
MAX_NUMERIC_DRAW = 1000
DISTANCE_TESTS = ("wasserstein", "jensenshannon")


def categorical_noise(reference_counts: np.ndarray, window_rows: int, column: str) -> float:
    """Jensen-Shannon distance's 99th percentile between a reference-sized and a window-sized sample of
    the reference's shares (aligned counts; a category only the window holds has share 0)."""
    counts = np.asarray(reference_counts, dtype=np.int64)
    shares = counts / counts.sum()
    rng = _rng(column)
    reference = rng.multinomial(int(counts.sum()), shares, size=DRAWS)
    window = rng.multinomial(window_rows, shares, size=DRAWS)
    distances = distance.jensenshannon(reference, window, axis=1)
    return float(np.quantile(distances, QUANTILE))


def numeric_noise(reference: NumericReference, window_rows: int, column: str) -> float:
    """The normed Wasserstein distance's 99th percentile between a reference-sized and a window-sized
    sample of the reference's values."""
    values, counts = reference.values, reference.counts
    # with counts, value i stands for the rows [upto[i-1], upto[i]) of the sorted reference
    upto = None if counts is None else np.cumsum(counts)
    n, m = min(reference.rows, MAX_NUMERIC_DRAW), min(window_rows, MAX_NUMERIC_DRAW)
    rng = _rng(column)

    def draw(size: int) -> np.ndarray:  # DRAWS sorted samples of ``size`` reference values, one a row
        rows = np.sort(rng.integers(0, reference.rows, (DRAWS, size)), axis=1)  # sorted rows: sorted values
        return values[rows if upto is None else np.searchsorted(upto, rows, side="right")]

    plan = stattests.quantile_plan(n, m)  # as the engine's W1: |quantile gap| integrated over t
    gaps = np.abs(draw(n)[:, plan.reference_index] - draw(m)[:, plan.current_index])
    distances = gaps @ plan.width / max(reference.std, 0.001)
    scale = np.sqrt((1 / reference.rows + 1 / window_rows) / (1 / n + 1 / m))
    return float(np.quantile(distances, QUANTILE) * scale)


def _rng(column: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(column.encode()))
