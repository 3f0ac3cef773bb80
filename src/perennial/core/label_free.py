"""Performance estimated before the labels arrive: CBPE per class, and direct loss estimation.

Multiclass (confidence-based performance estimation, as NannyML's CBPE): with calibrated class
probabilities, a row predicted as class c is right with probability p_c, so expected hits,
support and predictions per class give each class's expected recall, precision and F1, and
their macro average. Probabilities are first calibrated per class on the labelled reference
(the holdout), one isotonic map per class, then renormalised.

Binary (CBPE's ROC AUC): a row scored p is, in expectation, p of a positive and 1 - p of a
negative, so the ROC curve of the rows counted both ways, weighted so, is the expected curve; its
area is the expected AUC. Compared with the same estimate on the champion's reference scores it
gives the drop a covariate shift causes in expectation — before any label arrives, and blind to a
changed relation between features and label (that needs the labels).

Regression (direct loss estimation, as NannyML's DLE): a second model learns, on the labelled
reference, the absolute and the squared error of the first from its inputs and its prediction;
on a window without labels, the mean of its estimates is the expected MAE, the root of the mean
squared one the expected RMSE. Both are estimates whose quality rests on the reference looking
like the window in how errors relate to inputs; they do not see concept drift.

What the training flow fits on the chosen candidate's labelled holdout, for monitoring to use on
a window (``fit_reference``): a ``LossReference`` (regression: the loss estimator and the holdout's
measured MAE and RMSE of the served value) or a ``ClassReference`` (multiclass: the per-class
calibration and the holdout's measured accuracy and macro-F1). Against those measured figures a
window's estimate gives ``estimated_drop``, signed so that positive is worse (error up, or accuracy
or F1 down), in the units of the primary metric: what ``retraining.drift_needs_drop`` compares with
``performance_tolerance`` when the window has no labels yet. Each estimate carries the interval the
realised metric lands in when the labels come (core/label_free_interval.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score, roc_auc_score

from perennial.core.features import TREE_CATEGORIES
from perennial.core.label_free_interval import (
    Interval,
    binary_interval,
    interval_metrics,
    multiclass_intervals,
    regression_intervals,
)
from perennial.core.task import Task
from perennial.core.task_metrics import multiclass_arrays, regression_arrays

PREDICTION_FEATURE = "__prediction__"


@dataclass(frozen=True, slots=True)
class ClassEstimate:
    name: str
    expected_support: float
    predicted: int
    recall: float | None
    precision: float | None
    f1: float | None


@dataclass(frozen=True, slots=True)
class MulticlassEstimate:
    rows: int
    accuracy: float
    macro_f1: float
    classes: tuple[ClassEstimate, ...]
    intervals: tuple[Interval, Interval] | None = None  # accuracy's and macro-F1's (core/label_free_interval)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float | None] = {"estimated_accuracy": self.accuracy, "estimated_macro_f1": self.macro_f1}
        for c in self.classes:
            out |= {f"estimated_recall.{c.name}": c.recall, f"estimated_precision.{c.name}": c.precision}
        if self.intervals is not None:
            out |= interval_metrics("accuracy", self.intervals[0]) | interval_metrics("macro_f1", self.intervals[1])
        return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}


class ClassCalibration:
    """One isotonic map per class from predicted to observed probability, fitted on labelled rows."""

    def __init__(self, maps: Sequence[IsotonicRegression | None]) -> None:
        self.maps = tuple(maps)

    @classmethod
    def fit(cls, y: object, proba: object, classes: Sequence[object]) -> ClassCalibration:
        index, p = multiclass_arrays(y, proba, classes)
        maps: list[IsotonicRegression | None] = []
        for c in range(p.shape[1]):
            hit = (index == c).astype(np.float64)
            # a class always or never present cannot be calibrated: keep its probabilities
            maps.append(
                IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p[:, c], hit)
                if 0 < hit.sum() < len(hit)
                else None
            )
        return cls(maps)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        p = np.column_stack(
            [
                p_c if m is None else m.predict(p_c)
                for m, p_c in zip(self.maps, np.asarray(proba, dtype=np.float64).T, strict=True)
            ]
        )
        total = p.sum(axis=1, keepdims=True)
        calibrated: np.ndarray = np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)
        return calibrated


def estimate_multiclass(
    proba: object, classes: Sequence[object], calibration: ClassCalibration | None = None
) -> MulticlassEstimate:
    """Expected accuracy, macro-F1 and each class's recall and precision on unlabelled rows, of the
    class served (the most probable before calibration, as core/predict answers): calibration says how
    often that answer is right, it does not change the answer."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise ValueError(f"expected a rows x {len(classes)} probability matrix, got shape {p.shape}")
    guess = p.argmax(axis=1)
    if calibration is not None:
        p = calibration.apply(p)
    per_class, f1s = [], []
    for c, name in enumerate(classes):
        chosen = guess == c
        hits, support, predicted = float(p[chosen, c].sum()), float(p[:, c].sum()), int(chosen.sum())
        both = support + predicted
        f1 = 2 * hits / both if both > 0 else None
        per_class.append(
            ClassEstimate(
                str(name),
                support,
                predicted,
                hits / support if support > 0 else None,
                hits / predicted if predicted else None,
                f1,
            )
        )
        f1s.append(0.0 if f1 is None else f1)
    accuracy = float(p[np.arange(len(p)), guess].mean()) if len(p) else float("nan")
    macro_f1 = float(np.mean(f1s)) if len(p) else float("nan")
    intervals = multiclass_intervals(guess, p, accuracy, macro_f1)
    return MulticlassEstimate(len(p), accuracy, macro_f1, tuple(per_class), intervals)


def estimate_roc_auc(proba: object) -> float:
    """The ROC AUC expected from probabilities of the positive class (NaN for fewer than two rows)."""
    p = _scores(proba)
    if len(p) < 2 or p.sum() == 0 or (1 - p).sum() == 0:
        return float("nan")
    # every row twice, once a positive weighted p, once a negative weighted 1 - p: ties count as halves
    y = np.r_[np.ones(len(p)), np.zeros(len(p))]
    return float(roc_auc_score(y, np.r_[p, p], sample_weight=np.r_[p, 1 - p]))


def binary_estimates(window: object, reference: object) -> dict[str, float] | None:
    """The ROC AUC expected on the window's scores and on the champion's reference scores, and the drop
    between them (positive: worse); None when either has too few scores to say."""
    now, before = estimate_roc_auc(window), estimate_roc_auc(reference)
    if not (np.isfinite(now) and np.isfinite(before)):
        return None
    interval = interval_metrics("roc_auc", binary_interval(_scores(window), now))
    return {"estimated_roc_auc": now, **interval, "estimated_reference_roc_auc": before, "estimated_drop": before - now}


def _scores(proba: object) -> np.ndarray:
    """Finite probabilities of the positive class, clipped to [0, 1]."""
    p = np.clip(np.asarray(proba, dtype=np.float64).ravel(), 0.0, 1.0)
    return p[np.isfinite(p)]


@dataclass(frozen=True, slots=True)
class LossEstimate:
    rows: int
    mae: float
    rmse: float

    def metrics(self) -> dict[str, float]:
        intervals = regression_intervals(self.mae, self.rmse, self.rows)
        spans = (
            {} if intervals is None else interval_metrics("mae", intervals[0]) | interval_metrics("rmse", intervals[1])
        )
        return {"estimated_mae": self.mae, "estimated_rmse": self.rmse, **spans}


class LossEstimator:
    """Direct loss estimation: models of a regressor's absolute and squared error, from its inputs and output."""

    def __init__(self, seed: int = 0, max_iter: int = 100) -> None:
        self.seed, self.max_iter = seed, max_iter
        self.columns: tuple[str, ...] = ()  # the inputs it was fitted on, in order
        self.categories: dict[str, pd.Index] = {}

    def _inputs(self, X: pd.DataFrame, predicted: np.ndarray) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValueError(f"rows lack the columns the loss estimator was fitted on: {missing}")
        out = X.loc[:, list(self.columns)].copy()
        for column in out.columns:
            if column in self.categories:  # the reference's categories: a new one becomes missing
                out[column] = pd.Categorical(out[column].astype("string"), categories=self.categories[column])
            elif pd.api.types.is_datetime64_any_dtype(out[column]):
                out[column] = pd.to_datetime(out[column], utc=True).astype("int64") / 1e9
        return out.assign(**{PREDICTION_FEATURE: predicted})

    def fit(self, X: pd.DataFrame, y: object, predicted: object) -> LossEstimator:
        target, p = regression_arrays(y, predicted)
        self.columns = tuple(str(c) for c in X.columns)
        # the most frequent TREE_CATEGORIES of each: the rest read as missing, as a new one does
        # (1,631 stock codes crashed a regression's training after every candidate had trained)
        self.categories = {
            c: pd.Index(sorted(X[c].dropna().astype(str).value_counts().index[:TREE_CATEGORIES]))
            for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_datetime64_any_dtype(X[c]))
        }
        inputs = self._inputs(X, p)
        error = target - p
        self.models = [
            HistGradientBoostingRegressor(
                max_iter=self.max_iter, random_state=self.seed, categorical_features="from_dtype"
            ).fit(inputs, loss)
            for loss in (np.abs(error), error**2)
        ]
        return self

    def estimate(self, X: pd.DataFrame, predicted: object) -> LossEstimate:
        p = np.asarray(predicted, dtype=np.float64).ravel()
        if len(X) != len(p):
            raise ValueError(f"{len(X)} rows but {len(p)} predictions")
        if not len(p):
            return LossEstimate(0, float("nan"), float("nan"))
        inputs = self._inputs(X, p)
        absolute, squared = (np.clip(m.predict(inputs), 0, None) for m in self.models)
        return LossEstimate(len(p), float(absolute.mean()), float(np.sqrt(squared.mean())))


@dataclass(frozen=True, slots=True)
class LossReference:
    """Regression: the loss estimator fitted on the holdout, and the errors measured on those same rows."""

    estimator: LossEstimator
    measured: LossEstimate  # the holdout's MAE and RMSE of the predictions as served

    @classmethod
    def fit(cls, X: pd.DataFrame, y: object, predicted: object, seed: int = 0) -> LossReference:
        target, p = regression_arrays(y, predicted)
        error = target - p
        measured = LossEstimate(len(p), float(np.abs(error).mean()), float(np.sqrt((error**2).mean())))
        return cls(LossEstimator(seed=seed).fit(X, target, p), measured)

    def estimates(self, X: pd.DataFrame, predicted: object, primary_metric: str) -> dict[str, float] | None:
        """Expected MAE and RMSE on the window, the holdout's measured ones, and ``estimated_drop`` (the
        expected rise of the primary metric when it is MAE or RMSE); None for a window without rows."""
        found = self.estimator.estimate(X, predicted)
        if not found.rows:
            return None
        out = found.metrics() | {"holdout_mae": self.measured.mae, "holdout_rmse": self.measured.rmse}
        if primary_metric in ("mae", "rmse"):  # an error: higher is worse, so the rise is the drop
            out["estimated_drop"] = out[f"estimated_{primary_metric}"] - out[f"holdout_{primary_metric}"]
        return out


@dataclass(frozen=True, slots=True)
class ClassReference:
    """Multiclass: the per-class calibration fitted on the holdout, and what was measured on those rows."""

    classes: tuple[str, ...]
    calibration: ClassCalibration
    accuracy: float  # measured on the holdout
    macro_f1: float

    @classmethod
    def fit(cls, y: object, proba: object, classes: Sequence[object]) -> ClassReference:
        index, p = multiclass_arrays(y, proba, classes)
        guess = p.argmax(axis=1)
        macro_f1 = f1_score(index, guess, labels=range(p.shape[1]), average="macro", zero_division=0)
        return cls(
            tuple(str(c) for c in classes),
            ClassCalibration.fit(y, p, classes),
            float((guess == index).mean()),
            float(macro_f1),
        )

    def estimates(self, proba: object, classes: Sequence[object], primary_metric: str) -> dict[str, float] | None:
        """CBPE calibrated on the holdout, and ``estimated_drop`` (the expected fall of the primary metric
        when it is accuracy or macro-F1); None when the window's classes are not the holdout's."""
        named = [str(c) for c in classes]
        if sorted(named) != sorted(self.classes):
            return None
        order = [named.index(c) for c in self.classes]  # the window's columns in the calibration's order
        found = estimate_multiclass(np.asarray(proba, dtype=np.float64)[:, order], self.classes, self.calibration)
        if not found.rows:
            return None
        out = found.metrics() | {"holdout_accuracy": self.accuracy, "holdout_macro_f1": self.macro_f1}
        if primary_metric in ("accuracy", "macro_f1"):  # a score: higher is better, so the fall is the drop
            out["estimated_drop"] = out[f"holdout_{primary_metric}"] - out[f"estimated_{primary_metric}"]
        return out


LabelFreeReference = LossReference | ClassReference


def fit_reference(
    task: Task, X: pd.DataFrame, y: object, predicted: Any, classes: Sequence[object], seed: int = 0
) -> LabelFreeReference | None:
    """What monitoring estimates a window with, fitted on the labelled holdout (binary: None, CBPE's AUC
    compares the window with the reference scores instead)."""
    if task == "regression":
        return LossReference.fit(X, y, predicted, seed)
    if task == "multiclass":
        return ClassReference.fit(y, predicted, classes)
    return None


def describe_estimate(estimated: dict[str, float] | None, metric: str) -> str:
    """The window's label-free estimate in words: the primary metric expected, its interval, the drop."""
    if not estimated:
        return "none for this task, metric or champion"
    value = estimated.get(f"estimated_{metric}")
    low, high = estimated.get(f"estimated_{metric}_low"), estimated.get(f"estimated_{metric}_high")
    words = [] if value is None else [f"{metric} {value:.4f} expected"]
    if words and low is not None and high is not None:
        words[0] += f" (95% of labellings within [{low:.4f}, {high:.4f}])"
    drop = estimated.get("estimated_drop")
    if drop is not None:
        words.append(f"drop {drop:+.4f}")
    return ", ".join(words) or "no figure for the primary metric"
