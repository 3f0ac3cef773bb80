"""Score a model's holdout predictions: metrics with bootstrap intervals, slices, calibration.

Pure: arrays and frames in, frozen values out. Latency and size are measured by
separate helpers because they need the model, not only its predictions.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from perennial.config import Bootstrap, Evaluation
from perennial.core import metrics as m
from perennial.core.estimate import Estimate

CALIBRATION_BINS = 10
MISSING = "<NA>"


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True, slots=True)
class MetricEstimate:
    name: str
    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": _finite(self.value), "low": _finite(self.low), "high": _finite(self.high)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MetricEstimate:
        nan = float("nan")
        return cls(raw["name"], *(nan if raw[k] is None else float(raw[k]) for k in ("value", "low", "high")))


@dataclass(frozen=True, slots=True)
class SliceScore:
    column: str
    value: str
    rows: int
    positives: int
    metric: MetricEstimate | None  # None when the slice has one class only


@dataclass(frozen=True, slots=True)
class ClassScore:
    """One class of a multiclass model on the holdout: its support, recall and precision with intervals."""

    name: str
    support: int
    recall: MetricEstimate
    precision: MetricEstimate

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "support": self.support,
            "recall": self.recall.to_dict(),
            "precision": self.precision.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ClassScore:
        return cls(
            raw["name"],
            int(raw["support"]),
            MetricEstimate.from_dict(raw["recall"]),
            MetricEstimate.from_dict(raw["precision"]),
        )


@dataclass(frozen=True, slots=True)
class Scores:
    label: str  # "candidate:hgb", "baseline", "champion:v3"
    rows: int
    primary: MetricEstimate
    secondary: tuple[MetricEstimate, ...]
    slices: tuple[SliceScore, ...]  # only slices with at least min_slice_rows rows
    calibration: tuple[tuple[float, float, int], ...]  # (mean predicted, observed rate, count) per bin
    confusion: tuple[tuple[int, int], tuple[int, int]]  # [[tn, fp], [fn, tp]] at the threshold
    latency_ms_per_row: float | None = None
    latency_ms_single: float | None = None
    size_mb: float | None = None
    threshold: float = 0.5
    task: str = "binary"  # confusion and calibration are binary-only; classes multiclass-only
    classes: tuple[ClassScore, ...] = ()

    def metrics(self) -> dict[str, float]:
        """Flat, MLflow-safe metric names; undefined (NaN) and unmeasured values are left out."""
        out: dict[str, float | None] = {"rows": float(self.rows)}
        for est in (self.primary, *self.secondary):
            out |= {est.name: est.value, f"{est.name}_low": est.low, f"{est.name}_high": est.high}
        for s in self.slices:
            if s.metric is not None:
                key = f"slice.{_key(s.column)}.{_key(s.value)}.{s.metric.name}"
                out |= {key: s.metric.value, f"{key}_low": s.metric.low, f"{key}_high": s.metric.high}
        if self.task == "binary":
            (tn, fp), (fn, tp) = self.confusion
            out |= {"confusion.tn": tn, "confusion.fp": fp, "confusion.fn": fn, "confusion.tp": tp}
        for c in self.classes:
            for est in (c.recall, c.precision):
                key = f"class.{_key(c.name)}.{est.name}"
                out |= {key: est.value, f"{key}_low": est.low, f"{key}_high": est.high}
        out |= {
            "latency_ms_per_row": self.latency_ms_per_row,
            "latency_ms_single": self.latency_ms_single,
            "size_mb": self.size_mb,
        }
        return {k: f for k, v in out.items() if (f := _finite(v)) is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN becomes null); ``from_dict`` reads it back."""
        return {
            "label": self.label,
            "rows": self.rows,
            "threshold": self.threshold,
            "primary": self.primary.to_dict(),
            "secondary": [e.to_dict() for e in self.secondary],
            "slices": [
                {
                    "column": s.column,
                    "value": s.value,
                    "rows": s.rows,
                    "positives": s.positives,
                    "metric": None if s.metric is None else s.metric.to_dict(),
                }
                for s in self.slices
            ],
            "calibration": [list(b) for b in self.calibration],
            "confusion": [list(r) for r in self.confusion],
            "latency_ms_per_row": _finite(self.latency_ms_per_row),
            "latency_ms_single": _finite(self.latency_ms_single),
            "size_mb": _finite(self.size_mb),
            "task": self.task,
            "classes": [c.to_dict() for c in self.classes],
            "metrics": self.metrics(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Scores:
        (tn, fp), (fn, tp) = raw["confusion"]
        return cls(
            label=raw["label"],
            rows=int(raw["rows"]),
            primary=MetricEstimate.from_dict(raw["primary"]),
            secondary=tuple(MetricEstimate.from_dict(e) for e in raw["secondary"]),
            slices=tuple(
                SliceScore(
                    s["column"],
                    s["value"],
                    int(s["rows"]),
                    int(s["positives"]),
                    None if s["metric"] is None else MetricEstimate.from_dict(s["metric"]),
                )
                for s in raw["slices"]
            ),
            calibration=tuple((float(a), float(b), int(c)) for a, b, c in raw["calibration"]),
            confusion=((int(tn), int(fp)), (int(fn), int(tp))),
            latency_ms_per_row=raw.get("latency_ms_per_row"),
            latency_ms_single=raw.get("latency_ms_single"),
            size_mb=raw.get("size_mb"),
            threshold=float(raw.get("threshold", 0.5)),
            task=raw.get("task", "binary"),
            classes=tuple(ClassScore.from_dict(c) for c in raw.get("classes", ())),
        )


def _key(text: str) -> str:
    # MLflow metric names allow letters, digits, _ - . and spaces; anything else becomes _
    return re.sub(r"[^A-Za-z0-9_\-. ]", "_", text)


def _estimate(name: str, est: Estimate) -> MetricEstimate:
    return MetricEstimate(name, est.value, est.low, est.high)


def score_predictions(
    label: str, y_true: np.ndarray, proba: np.ndarray, slices: pd.DataFrame | None, ev: Evaluation
) -> Scores:
    """Everything the gate and the report need about one model's holdout predictions."""
    y, p = m.as_arrays(y_true, proba)
    if slices is not None and len(slices) != len(y):
        raise ValueError(f"slices has {len(slices)} rows but there are {len(y)} predictions")
    names = list(dict.fromkeys((ev.primary_metric, *ev.secondary_metrics)))
    found = m.estimate_metrics(y, p, names, ev.bootstrap, ev.threshold)
    return Scores(
        label=label,
        rows=len(y),
        primary=_estimate(names[0], found[names[0]]),
        secondary=tuple(_estimate(n, found[n]) for n in names[1:]),
        slices=score_slices(y, p, slices, ev) if slices is not None else (),
        calibration=calibration_bins(y, p),
        confusion=confusion_counts(y, p, ev.threshold),
        threshold=ev.threshold,
    )


def score_slices(y: np.ndarray, proba: np.ndarray, slices: pd.DataFrame, ev: Evaluation) -> tuple[SliceScore, ...]:
    """The primary metric per value of each slice column (rows matched by position)."""
    out = []
    for column in slices.columns:
        raw = slices[column].to_numpy(dtype=object)
        values = np.array([MISSING if pd.isna(v) else str(v) for v in raw], dtype=object)
        for value in sorted(set(values)):
            mask = values == value
            rows, positives = int(mask.sum()), int(y[mask].sum())
            if rows < ev.min_slice_rows:
                continue
            metric = None
            if 0 < positives < rows:
                est = m.estimate_metrics(y[mask], proba[mask], [ev.primary_metric], ev.bootstrap, ev.threshold)
                metric = _estimate(ev.primary_metric, est[ev.primary_metric])
            out.append(SliceScore(str(column), value, rows, positives, metric))
    return tuple(out)


def calibration_bins(
    y: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS
) -> tuple[tuple[float, float, int], ...]:
    """(mean predicted, observed rate, count) per quantile bin; tied scores share a bin."""
    if len(y) == 0:
        return ()
    edges = np.unique(np.quantile(proba, np.linspace(0, 1, bins + 1)))
    which = np.searchsorted(edges[1:-1], proba, side="right")
    out = []
    for b in range(max(len(edges) - 1, 1)):
        mask = which == b
        if mask.any():
            out.append((float(proba[mask].mean()), float(y[mask].mean()), int(mask.sum())))
    return tuple(out)


def confusion_counts(y: np.ndarray, proba: np.ndarray, threshold: float) -> tuple[tuple[int, int], tuple[int, int]]:
    predicted, truth = proba >= threshold, y.astype(bool)
    tn, fp = int((~predicted & ~truth).sum()), int((predicted & ~truth).sum())
    fn, tp = int((~predicted & truth).sum()), int((predicted & truth).sum())
    return (tn, fp), (fn, tp)


def paired_difference(
    y_true: np.ndarray,
    proba_a: np.ndarray,
    proba_b: np.ndarray,
    metric: str,
    bootstrap: Bootstrap,
    threshold: float = 0.5,
) -> MetricEstimate:
    """Model a minus model b on the same rows, paired bootstrap interval; named e.g. ``roc_auc_diff``."""
    return _estimate(f"{metric}_diff", m.estimate_difference(y_true, proba_a, proba_b, metric, bootstrap, threshold))


def measure_latency(
    predict_proba: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame, rows: int, single_calls: int = 20
) -> tuple[float, float]:
    """(ms per row on one batch of ``rows`` rows, median ms of a single-row call), after a warm-up."""
    if len(frame) == 0 or rows < 1:
        raise ValueError("latency needs at least one row")
    batch = frame.iloc[np.resize(np.arange(len(frame)), rows)]  # repeats rows if the frame is short
    single = frame.iloc[:1]
    predict_proba(batch)
    predict_proba(single)
    batch_ms = []
    for _ in range(3):  # the median of a few batches: one GC pause should not fail a gate
        start = time.perf_counter()
        predict_proba(batch)
        batch_ms.append((time.perf_counter() - start) * 1000)
    single_ms = []
    for _ in range(single_calls):
        start = time.perf_counter()
        predict_proba(single)
        single_ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(batch_ms) / rows, statistics.median(single_ms)


def model_size_mb(model: object) -> float:
    """Pickled size in MB (10^6 bytes), with cloudpickle as MLflow logs it when available."""
    try:
        import cloudpickle as pickler
    except ImportError:  # pragma: no cover - cloudpickle comes with MLflow
        import pickle as pickler
    return len(pickler.dumps(model)) / 1_000_000


def confusion_figure(scores: Scores) -> Figure:
    """The confusion matrix at the threshold, counts and row shares."""
    matrix = np.array(scores.confusion)
    fig = Figure(figsize=(4.2, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    totals = matrix.sum(axis=1, keepdims=True)
    for (i, j), count in np.ndenumerate(matrix):
        share = count / totals[i, 0] if totals[i, 0] else 0.0
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, f"{count}\n{share:.0%}", ha="center", va="center", color=color)
    ax.set_xticks([0, 1], ["0", "1"])
    ax.set_yticks([0, 1], ["0", "1"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(f"{scores.label} at threshold {scores.threshold:g}", fontsize=10)
    return fig


def calibration_figure(scores_list: Sequence[Scores]) -> Figure:
    """Reliability curves: observed rate against mean prediction per quantile bin."""
    fig = Figure(figsize=(5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    for scores in scores_list:
        if scores.calibration:
            predicted, observed, _ = zip(*scores.calibration, strict=True)
            ax.plot(predicted, observed, marker="o", linewidth=1.5, label=scores.label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed positive rate")
    ax.set_title("Calibration on the holdout (10 quantile bins)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return fig
