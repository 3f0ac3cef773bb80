"""Regression and multiclass metrics with the same paired bootstrap as the binary ones.

Each model's predictions on fixed rows become per-row terms once (absolute error, squared error,
the true class's log probability, one-hot hits per class...); a bootstrap resample is a vector of
row counts, and every metric is a ratio of count-weighted sums of those terms. So one set of
resamples (``metrics.bootstrap_interval``) scores every metric of every model, a comparison of
two models is truly paired, and a resample's value equals sklearn's on the rows it drew.

Regression predictions are a 1-D array of values; multiclass predictions are an (rows x classes)
probability matrix whose columns follow ``classes``, and labels are the class values themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perennial.config import Bootstrap
from perennial.core.estimate import Estimate
from perennial.core.metrics import Statistic, _estimates, bootstrap_interval
from perennial.core.task import check_metric


class RegressionRows:
    """One regressor's predictions on fixed rows, ready to score many row-count vectors at once."""

    task = "regression"

    def __init__(self, y: object, predicted: object, quantile: float = 0.5) -> None:
        self.y, self.pred = regression_arrays(y, predicted)
        self.quantile = quantile
        error = self.y - self.pred
        self.terms = {
            "abs": np.abs(error),
            "sq": error**2,
            "y": self.y,
            "y2": self.y**2,
            "pinball": np.maximum(quantile * error, (quantile - 1) * error),
        }
        # MAPE is defined only where the target never reaches zero
        self.terms["ape"] = np.abs(error) / np.abs(self.y) if (self.y != 0).all() else np.full(len(self.y), np.nan)

    def values(self, names: Sequence[str], counts: np.ndarray) -> np.ndarray:
        n = counts.sum(axis=1)
        mean = {k: (counts @ v) / n for k, v in self.terms.items()}
        out = []
        for name in names:
            if name == "mae":
                out.append(mean["abs"])
            elif name == "rmse":
                out.append(np.sqrt(mean["sq"]))
            elif name == "r2":
                spread = mean["y2"] - mean["y"] ** 2  # weighted variance of the target
                with np.errstate(invalid="ignore", divide="ignore"):
                    out.append(np.where(spread > 1e-12 * np.maximum(mean["y2"], 1), 1 - mean["sq"] / spread, np.nan))
            elif name == "mape":
                out.append(mean["ape"])
            else:
                check_metric("regression", name)
                out.append(mean["pinball"])
        return np.stack(out)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, keep: np.ndarray | None) -> RegressionRows:
        """These rows at ``keep`` (all when None): ``bootstrap_interval``'s subset of a large window."""
        return self if keep is None else RegressionRows(self.y[keep], self.pred[keep], self.quantile)


class MulticlassRows:
    """One classifier's class probabilities on fixed rows (columns in ``classes`` order)."""

    task = "multiclass"

    def __init__(self, y: object, proba: object, classes: Sequence[object], top_k: int = 2) -> None:
        self.index, self.proba = multiclass_arrays(y, proba, classes)
        self.classes, self.top_k = list(classes), top_k
        k = self.proba.shape[1]
        truth = np.eye(k)[self.index]
        guess = np.eye(k)[self.proba.argmax(axis=1)]
        eps = np.finfo(np.float64).eps
        true_p = self.proba[np.arange(len(self.index)), self.index]
        # the true class is in the top k when fewer than k classes score strictly higher
        above = (self.proba > true_p[:, None]).sum(axis=1)
        self.truth, self.guess, self.hit = truth, guess, truth * guess
        # "correct" follows argmax (ties to the first class, as sklearn's predict does)
        self.terms = {
            "log_loss": -np.log(np.clip(true_p, eps, 1)),
            "correct": self.hit.sum(axis=1),
            "top_k": (above < min(top_k, k)).astype(np.float64),
        }

    def __len__(self) -> int:
        return len(self.index)

    def take(self, keep: np.ndarray | None) -> MulticlassRows:
        """These rows at ``keep`` (all when None): ``bootstrap_interval``'s subset of a large window."""
        if keep is None:
            return self
        labels = np.asarray(self.classes, dtype=object)[self.index[keep]]
        return MulticlassRows(labels, self.proba[keep], self.classes, self.top_k)

    def per_class(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hits, support, predicted), each resamples x classes."""
        return counts @ self.hit, counts @ self.truth, counts @ self.guess

    def values(self, names: Sequence[str], counts: np.ndarray) -> np.ndarray:
        n = counts.sum(axis=1)
        return np.stack([self._value(name, counts, n) for name in names])

    def _value(self, name: str, counts: np.ndarray, n: np.ndarray) -> np.ndarray:
        if name in ("log_loss", "accuracy", "top_k_accuracy"):
            mean: np.ndarray = (
                counts @ self.terms[{"accuracy": "correct", "top_k_accuracy": "top_k"}.get(name, name)]
            ) / n
            return mean
        hits, support, predicted = self.per_class(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            if name == "balanced_accuracy":  # mean recall over the classes present
                recall = np.where(support > 0, hits / np.where(support > 0, support, 1), np.nan)
                balanced: np.ndarray = np.nanmean(recall, axis=1)
                return balanced
            # macro_f1 over the classes the labels hold (sklearn's f1_score with labels=the classes
            # present): a class absent from a window's labels has no F1. Counted as 0 because the
            # model still called it on 13 of 2,000 rows, a month without one grape read as a
            # confirmed drop of a third; those 13 calls still cost the labelled classes' recall
            check_metric("multiclass", name)
            both = support + predicted
            macro: np.ndarray = np.nanmean(
                np.where(support > 0, 2 * hits / np.where(both > 0, both, 1), np.nan), axis=1
            )
            return macro


def regression_arrays(y_true: object, predicted: object) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions as finite floats of the same length."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(predicted, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} targets but {len(p)} predictions")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValueError("regression targets and predictions must be finite numbers")
    return y, p


def multiclass_arrays(y_true: object, proba: object, classes: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """Labels as indices into ``classes`` and probabilities as a rows x classes float matrix."""
    p = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(y_true, dtype=object).ravel()
    if p.ndim != 2 or p.shape != (len(labels), len(classes)):
        raise ValueError(f"expected a {len(labels)} x {len(classes)} probability matrix, got shape {p.shape}")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1 + 1e-9).all()):
        raise ValueError("predicted probabilities must be finite and within [0, 1]")
    position = {str(c): i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in labels} - set(position))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the model's classes {[str(c) for c in classes]}")
    return np.array([position[str(v)] for v in labels], dtype=np.int64), p


Rows = RegressionRows | MulticlassRows


def estimate(rows: Rows, names: Sequence[str], bootstrap: Bootstrap) -> dict[str, Estimate]:
    """Each metric's value with a percentile-bootstrap interval, all from the same resamples."""
    names = list(dict.fromkeys(check_metric(rows.task, n) for n in names))  # type: ignore[arg-type]
    size = len(rows)
    values = rows.values(names, np.ones((1, size)))[:, 0] if size else np.full(len(names), np.nan)
    if size < 2:
        return {n: Estimate(float(v), float(v), float(v)) for n, v in zip(names, values, strict=True)}

    def statistic(keep: np.ndarray | None) -> Statistic:
        some = rows.take(keep)
        return lambda c: some.values(names, c)

    low, high = bootstrap_interval(size, statistic, bootstrap, values)
    return dict(zip(names, _estimates(values, low, high), strict=True))


def estimate_difference(a: Rows, b: Rows, name: str, bootstrap: Bootstrap) -> Estimate:
    """``name`` of model a minus model b on the same rows, with a paired-bootstrap interval."""
    size = len(a)
    value = float((a.values([name], np.ones((1, size))) - b.values([name], np.ones((1, size))))[0, 0])
    if size < 2:
        return Estimate(value, value, value)

    def statistic(keep: np.ndarray | None) -> Statistic:
        some_a, some_b = a.take(keep), b.take(keep)
        return lambda c: some_a.values([name], c) - some_b.values([name], c)

    low, high = bootstrap_interval(size, statistic, bootstrap, [value])
    return _estimates([value], low, high)[0]


def class_estimates(
    rows: MulticlassRows, classes: Sequence[object], bootstrap: Bootstrap
) -> dict[str, dict[str, Estimate]]:
    """Each class's recall and precision with intervals: {"recall": {class: Estimate}, "precision": {...}}."""
    k = len(classes)

    def per_class(keep: np.ndarray | None) -> Statistic:
        some = rows.take(keep)

        def recall_precision(counts: np.ndarray) -> np.ndarray:
            hits, support, predicted = some.per_class(counts)
            with np.errstate(invalid="ignore", divide="ignore"):
                recall = np.where(support > 0, hits / np.where(support > 0, support, 1), np.nan)
                precision = np.where(predicted > 0, hits / np.where(predicted > 0, predicted, 1), np.nan)
            return np.concatenate([recall, precision], axis=1).T  # (2k statistics) x resamples

        return recall_precision

    size = len(rows.index)
    values = per_class(None)(np.ones((1, size)))[:, 0]
    if size >= 2:
        low, high = bootstrap_interval(size, per_class, bootstrap, values)
        found = _estimates(values, low, high)
    else:
        found = [Estimate(float(v), float(v), float(v)) for v in values]
    names = [str(c) for c in classes]
    return {"recall": dict(zip(names, found[:k], strict=True)), "precision": dict(zip(names, found[k:], strict=True))}


def class_recall_differences(
    a: MulticlassRows, b: MulticlassRows, classes: Sequence[object], bootstrap: Bootstrap
) -> dict[str, Estimate]:
    """Each class's recall of model a minus model b on the same rows (paired bootstrap)."""

    def recall(rows: MulticlassRows, counts: np.ndarray) -> np.ndarray:
        hits, support, _ = rows.per_class(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(support > 0, hits / np.where(support > 0, support, 1), np.nan)

    size = len(a.index)
    values = (recall(a, np.ones((1, size))) - recall(b, np.ones((1, size))))[0]
    if size >= 2:

        def statistic(keep: np.ndarray | None) -> Statistic:
            some_a, some_b = a.take(keep), b.take(keep)
            return lambda c: (recall(some_a, c) - recall(some_b, c)).T

        low, high = bootstrap_interval(size, statistic, bootstrap, values)
        found = _estimates(values, low, high)
    else:
        found = [Estimate(float(v), float(v), float(v)) for v in values]
    return dict(zip((str(c) for c in classes), found, strict=True))
