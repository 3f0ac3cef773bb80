"""Metrics by name, and their percentile-bootstrap confidence intervals.

Point estimates come straight from ``sklearn.metrics``. The bootstrap is
``scipy.stats.bootstrap`` over *row indices* (``paired=True``): each resample is turned
into per-row counts, and every metric of every model is computed from those counts, so
one set of resamples serves them all and a comparison of two models is truly paired.
With a fixed seed, separate calls on the same rows draw the same resamples too.

Counting instead of copying keeps it fast: the rows are sorted by score once, and a
resample's ROC AUC or average precision is a weighted rank statistic (cumulative sums
over that fixed order), equal to sklearn's value with the counts as sample weights.
A metric a resample cannot define (one class only) is NaN and left out of its interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from perennial.config import Bootstrap
from perennial.core import task
from perennial.core.estimate import Estimate
from perennial.core.task import METRICS_BY_TASK

METRICS: tuple[str, ...] = METRICS_BY_TASK["binary"]
THRESHOLDED = frozenset({"f1", "accuracy"})
# Bootstrap work is done in batches of about this many (resample, row) cells: bounds memory
_BATCH_CELLS = 2_000_000
LEAN_ROWS = 1_000_000  # past this many rows, ROC AUC is computed in lean_roc_auc's memory, not sklearn's


def _known(name: str) -> str:
    if name not in METRICS:
        raise ValueError(f"unknown metric '{name}'; known: {', '.join(METRICS)}")
    return name


def higher_is_better(name: str) -> bool:
    """True for scores (AUC, AP, F1, accuracy, R²...), False for losses (log loss, Brier, MAE...), any task."""
    return task.higher_is_better(name)


def as_arrays(y_true: object, proba: object) -> tuple[np.ndarray, np.ndarray]:
    """Labels as 0/1 ints and probabilities as floats, checked for shape and range."""
    y = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1 (or False/True)")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("predicted probabilities must be finite and within [0, 1]")
    return y, p


def metric_value(name: str, y_true: object, proba: object, threshold: float = 0.5) -> float:
    """sklearn's value of ``name``; NaN where it is undefined (AUC with one class, AP with no positive)."""
    y, p = as_arrays(y_true, proba)
    has_pos, has_neg = bool(y.any()), bool((1 - y).any())
    match _known(name):
        case "roc_auc" if has_pos and has_neg and len(y) > LEAN_ROWS:
            return lean_roc_auc(y, p)
        case "roc_auc":
            return float(skm.roc_auc_score(y, p)) if has_pos and has_neg else float("nan")
        case "average_precision":
            return float(skm.average_precision_score(y, p)) if has_pos else float("nan")
        case "log_loss":
            return float(skm.log_loss(y, p, labels=[0, 1]))
        case "brier":
            return float(skm.brier_score_loss(y, p, pos_label=1))
        case "f1":
            return float(skm.f1_score(y, (p >= threshold).astype(np.int64), zero_division=0.0))
        case _:
            return float(skm.accuracy_score(y, (p >= threshold).astype(np.int64)))


class WeightedRows:
    """One model's predictions on fixed rows, ready to score many row-count vectors at once."""

    def __init__(self, y: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> None:
        self.order = np.argsort(proba, kind="stable")
        ranked = proba[self.order]
        # one group per distinct score: tied rows share a rank (half credit in AUC)
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        self.positive = y[self.order].astype(np.float64)
        eps = np.finfo(np.float64).eps
        clipped = np.clip(proba, eps, 1 - eps)
        predicted = proba >= threshold
        truth = y.astype(bool)
        self.per_row = {
            "log_loss": -np.where(truth, np.log(clipped), np.log1p(-clipped)),
            "brier": (proba - y) ** 2,
            "correct": (predicted == truth).astype(np.float64),
            "tp": (predicted & truth).astype(np.float64),
            "fp_fn": (predicted != truth).astype(np.float64),
        }

    def values(self, names: Sequence[str], counts: np.ndarray) -> np.ndarray:
        """Each metric (rows) for each row of ``counts`` (resamples x rows): sklearn's value with those weights."""
        ranked = self._ranked(counts) if {"roc_auc", "average_precision"} & set(names) else None
        return np.stack([self._value(name, counts, ranked) for name in names])

    def _value(self, name: str, counts: np.ndarray, ranked: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        if name == "roc_auc" and ranked is not None:
            return _roc_auc(*ranked)
        if name == "average_precision" and ranked is not None:
            return _average_precision(*ranked)
        if name == "f1":
            tp = counts @ self.per_row["tp"]
            denominator = 2 * tp + counts @ self.per_row["fp_fn"]
            f1: np.ndarray = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
            return f1
        column = "correct" if name == "accuracy" else _known(name)
        value: np.ndarray = (counts @ self.per_row[column]) / counts.sum(axis=1)
        return value

    def _ranked(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positive and negative counts per distinct score, lowest score first."""
        ranked = counts[:, self.order]
        pos = ranked * self.positive
        neg = ranked - pos
        if len(self.starts) < ranked.shape[1]:
            pos, neg = np.add.reduceat(pos, self.starts, axis=1), np.add.reduceat(neg, self.starts, axis=1)
        return pos, neg


def _roc_auc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower; ties count half
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), np.nan)


def _average_precision(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    pos, neg = pos[:, ::-1], neg[:, ::-1]  # from the highest score down
    n_pos = pos.sum(axis=1)
    tp, flagged = np.cumsum(pos, axis=1), np.cumsum(pos + neg, axis=1)
    precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, (pos * precision).sum(axis=1) / n_pos, np.nan)


Statistic = Callable[[np.ndarray], np.ndarray]  # row counts (resamples x rows) -> values (statistics x resamples)


def lean_roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the share of (positive, negative) pairs ranked right, ties counting half: sklearn's
    value, from the two classes' scores sorted apart and searched, in a fraction of its memory (on 20M
    rows sklearn's took 1.5 GB more, which a 4 GB monitoring step could not spare, and 11 s)."""
    positive = np.sort(p[y == 1])
    negative = np.sort(p[y == 0])
    below = np.searchsorted(negative, positive, side="left").sum(dtype=np.float64)
    tied = np.searchsorted(negative, positive, side="right").sum(dtype=np.float64) - below
    return float((below + 0.5 * tied) / (len(positive) * len(negative)))


def bootstrap_interval(
    rows: int,
    statistic_of: Callable[[np.ndarray | None], Statistic],
    bootstrap: Bootstrap,
    values: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of a vector statistic of row counts: (low, high), one per statistic row.

    ``statistic_of(keep)``: the statistic on the rows ``keep`` (an index), or on every row (None);
    ``values``: the statistic on every row. Past ``bootstrap.max_rows`` rows, the bootstrap of a seeded
    subset of that many, narrowed by sqrt(subset / rows) around ``values`` (the m-out-of-n bootstrap):
    a resample's cost and memory grow with the rows it counts, and 300 of 20M rows took minutes.
    """
    if rows <= bootstrap.max_rows:
        return _percentile_interval(rows, statistic_of(None), bootstrap)
    keep = np.sort(np.random.default_rng(bootstrap.seed).choice(rows, bootstrap.max_rows, replace=False))
    subset = statistic_of(keep)
    low, high = _percentile_interval(len(keep), subset, bootstrap)
    centre = subset(np.ones((1, len(keep))))[:, 0]
    scale = math.sqrt(len(keep) / rows)
    value = np.asarray(values, dtype=np.float64)
    return value + scale * (low - centre), value + scale * (high - centre)


def _percentile_interval(rows: int, statistic: Statistic, bootstrap: Bootstrap) -> tuple[np.ndarray, np.ndarray]:
    batch = max(1, min(bootstrap.resamples, _BATCH_CELLS // max(rows, 1)))

    def of_indices(index: np.ndarray, axis: int = -1) -> np.ndarray:
        index = np.atleast_2d(index)
        offsets = (np.arange(index.shape[0]) * rows)[:, None]
        counts = np.bincount((index + offsets).ravel(), minlength=index.size).reshape(index.shape)
        return statistic(counts.astype(np.float64))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN resamples warn; they are handled below
        result = stats.bootstrap(
            (np.arange(rows),),
            of_indices,
            n_resamples=bootstrap.resamples,
            batch=batch,
            vectorized=True,
            paired=True,
            confidence_level=bootstrap.confidence,
            method="percentile",
            rng=np.random.default_rng(bootstrap.seed),
        )
        low, high = (np.atleast_1d(np.asarray(b, dtype=np.float64)) for b in result.confidence_interval)
        missing = np.isnan(low) | np.isnan(high)
        spread = np.atleast_2d(result.bootstrap_distribution)
        # some resamples had one class: the interval of the others (none at all: it stays NaN)
        recoverable = missing & ~np.isnan(spread).all(axis=-1)
        if recoverable.any():
            alpha = (1 - bootstrap.confidence) / 2
            low[recoverable], high[recoverable] = np.nanquantile(spread[recoverable], [alpha, 1 - alpha], axis=-1)
    return low, high


def picked(values: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """``values`` at the rows ``keep`` (all of them when None): a subset's arrays for ``bootstrap_interval``."""
    return values if keep is None else values[keep]


def _estimates(values: Sequence[float] | np.ndarray, low: np.ndarray, high: np.ndarray) -> list[Estimate]:
    # A percentile interval can miss a skewed point estimate: widen it to contain the estimate
    out = []
    for value, lo, hi in zip(values, low, high, strict=True):
        if np.isnan(value) or np.isnan(lo) or np.isnan(hi):
            out.append(Estimate(float(value), float(lo), float(hi)))
        else:
            out.append(Estimate(float(value), float(min(lo, value)), float(max(hi, value))))
    return out


def estimate_metrics(
    y_true: object, proba: object, names: Sequence[str], bootstrap: Bootstrap, threshold: float = 0.5
) -> dict[str, Estimate]:
    """Each metric's value with a percentile-bootstrap interval; all from the same resamples."""
    y, p = as_arrays(y_true, proba)
    names = list(dict.fromkeys(_known(n) for n in names))
    values = [metric_value(n, y, p, threshold) for n in names]
    if len(y) < 2:
        return {n: Estimate(v, v, v) for n, v in zip(names, values, strict=True)}

    def statistic(keep: np.ndarray | None) -> Statistic:
        model = WeightedRows(picked(y, keep), picked(p, keep), threshold)
        return lambda c: model.values(names, c)

    low, high = bootstrap_interval(len(y), statistic, bootstrap, values)
    return dict(zip(names, _estimates(values, low, high), strict=True))


def estimate_difference(
    y_true: object, proba_a: object, proba_b: object, name: str, bootstrap: Bootstrap, threshold: float = 0.5
) -> Estimate:
    """``name`` of model a minus model b on the same rows, with a paired-bootstrap interval."""
    y, a = as_arrays(y_true, proba_a)
    _, b = as_arrays(y, proba_b)
    value = metric_value(name, y, a, threshold) - metric_value(name, y, b, threshold)
    if len(y) < 2:
        return Estimate(value, value, value)

    def statistic(keep: np.ndarray | None) -> Statistic:
        truth = picked(y, keep)
        model_a, model_b = (
            WeightedRows(truth, picked(a, keep), threshold),
            WeightedRows(truth, picked(b, keep), threshold),
        )
        return lambda c: model_a.values([name], c) - model_b.values([name], c)

    low, high = bootstrap_interval(len(y), statistic, bootstrap, [value])
    return _estimates([value], low, high)[0]
