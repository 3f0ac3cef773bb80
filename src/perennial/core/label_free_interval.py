"""How far a window's realised metric may land from its label-free estimate, from the labels' sampling alone.

An estimate says what the metric is expected to be if the champion's (calibrated) probabilities, or its
loss model, hold; the labels, when they arrive, are draws. The interval holds 95% of the realised
metric under that premise:

- binary and multiclass: labels drawn from the probabilities, 200 times (a parametric bootstrap), the
  metric computed on each draw; on at most 20,000 rows of the window (seeded), the spread then scaled
  by the square root of rows used over the window's rows (a mean's spread);
- regression: from the estimated errors' moments. MAE is a mean of |error|, whose spread is
  sqrt(RMSE^2 - MAE^2); RMSE is the root of a mean of squared errors, whose spread is taken as a normal
  error's (sqrt(2) RMSE^2).

It bounds noise, not the estimate being wrong (miscalibration, a changed relation between features and
label): what the labels settle when they come. As NannyML's sampling error, at about 2 of its sigmas.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

DRAWS = 200
MAX_ROWS = 20_000
QUANTILES = (0.025, 0.975)
Z = 1.959964  # the normal's 97.5% point: the regression intervals' half-width in spreads

Interval = tuple[float, float]


def binary_interval(proba: np.ndarray, estimate: float, seed: int = 0) -> Interval | None:
    """ROC AUC: labels drawn as Bernoulli(p) of each score; None when draws rarely hold both classes."""
    rng = np.random.default_rng(seed)
    p = _at_most(np.clip(np.asarray(proba, dtype=np.float64), 0.0, 1.0), rng)
    ranks = rankdata(p)  # AUC from ranks (Mann-Whitney), ties as halves: the scores are ranked once
    draws = []
    for _ in range(DRAWS):
        positive = rng.random(len(p)) < p
        n1 = int(positive.sum())
        n0 = len(p) - n1
        if n1 and n0:
            draws.append((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    if len(draws) < DRAWS // 2:
        return None
    return _around(estimate, np.asarray(draws), len(p), len(proba))


def multiclass_intervals(
    served: np.ndarray, calibrated: np.ndarray, accuracy: float, macro_f1: float, seed: int = 0
) -> tuple[Interval, Interval] | None:
    """Accuracy and macro-F1 of the ``served`` class index per row, labels drawn from ``calibrated``."""
    rows, classes = calibrated.shape
    if not rows:
        return None
    rng = np.random.default_rng(seed)
    chosen = np.arange(rows) if rows <= MAX_ROWS else rng.choice(rows, MAX_ROWS, replace=False)
    guess, cumulative = served[chosen], np.cumsum(calibrated[chosen], axis=1)
    predicted = np.bincount(guess, minlength=classes)
    accuracies, f1s = np.empty(DRAWS), np.empty(DRAWS)
    for i in range(DRAWS):
        drawn = np.minimum((rng.random((len(chosen), 1)) > cumulative).sum(axis=1), classes - 1)
        hit = drawn == guess
        tp, support = np.bincount(guess[hit], minlength=classes), np.bincount(drawn, minlength=classes)
        both = support + predicted
        accuracies[i] = hit.mean()
        f1s[i] = np.mean(np.divide(2 * tp, both, out=np.zeros(classes), where=both > 0))
    return _around(accuracy, accuracies, len(chosen), rows), _around(macro_f1, f1s, len(chosen), rows)


def regression_intervals(mae: float, rmse: float, rows: int) -> tuple[Interval, Interval] | None:
    """MAE and RMSE from the estimated errors' moments over ``rows`` rows."""
    if rows < 2:
        return None
    spread = np.sqrt(max(rmse**2 - mae**2, 0.0) / rows)
    mse, mse_spread = rmse**2, np.sqrt(2.0) * rmse**2 / np.sqrt(rows)
    return (
        (max(mae - Z * spread, 0.0), mae + Z * spread),
        (float(np.sqrt(max(mse - Z * mse_spread, 0.0))), float(np.sqrt(mse + Z * mse_spread))),
    )


def interval_metrics(name: str, interval: Interval | None) -> dict[str, float]:
    """``estimated_<name>_low`` and ``_high``, as the monitoring run logs them (none without an interval)."""
    if interval is None:
        return {}
    return {f"estimated_{name}_low": float(interval[0]), f"estimated_{name}_high": float(interval[1])}


def _at_most(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return values if len(values) <= MAX_ROWS else rng.choice(values, MAX_ROWS, replace=False)


def _around(estimate: float, draws: np.ndarray, used: int, rows: int) -> Interval:
    """The draws' 95% range about their mean, scaled from ``used`` rows to ``rows``, placed about ``estimate``."""
    low, high = np.quantile(draws, QUANTILES)
    scale, centre = np.sqrt(used / rows), float(draws.mean())
    return float(estimate + (low - centre) * scale), float(estimate + (high - centre) * scale)
