"""Where the gated candidate is wrong: per class, per slice (worst first), and the costliest rows.

Pure: labels, probabilities and frames in, a frozen report out. Slice metrics reuse the
evaluation's bootstrap so a slice's interval means the same as the headline one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Evaluation
from perennial.core import metrics as m
from perennial.core.evaluation import MISSING, MetricEstimate


@dataclass(frozen=True, slots=True)
class ClassErrors:
    label: int
    support: int  # rows whose true class is ``label``
    predicted: int  # rows predicted as ``label``
    precision: float | None  # None when nothing was predicted as this class
    recall: float | None


@dataclass(frozen=True, slots=True)
class SliceErrors:
    column: str
    value: str
    support: int
    positives: int
    precision: float | None  # of the positive class, at the threshold
    recall: float | None
    metric: MetricEstimate | None  # the primary metric with its interval; None with one class only
    mean_loss: float


@dataclass(frozen=True, slots=True)
class ErrorAnalysis:
    model: str
    metric: str
    threshold: float
    rows: int
    classes: tuple[ClassErrors, ...]
    slices: tuple[SliceErrors, ...]  # worst primary metric first; slices without one last
    top_losses: pd.DataFrame  # the highest-loss rows, with label, probability and loss

    def no_positive_decided(self) -> str | None:
        """Why every label this model would serve is the negative one, or None: no holdout row reaches
        the threshold, though some are positive. A rare positive class does it at 0.5 (1.8% positives:
        the highest probability was 0.42), and the gate, which judges probabilities, passes it."""
        positive = next(c for c in self.classes if c.label == 1)
        if positive.predicted or not positive.support:
            return None
        return (
            f"at threshold {self.threshold:g} {self.model} decides no holdout row positive ({positive.support:,} "
            f"of {self.rows:,} are): every label it serves is the negative one; fill in evaluation.cost to choose "
            "the threshold by expected cost, or lower evaluation.threshold"
        )

    def worst(self, n: int = 3) -> tuple[SliceErrors, ...]:
        return tuple(s for s in self.slices if s.metric is not None)[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": self.metric,
            "threshold": self.threshold,
            "rows": self.rows,
            "classes": [_clean(asdict(c)) for c in self.classes],
            "slices": [
                _clean({**asdict(s), "metric": None if s.metric is None else s.metric.to_dict()}) for s in self.slices
            ],
            "top_loss_rows": len(self.top_losses),
        }

    def to_markdown(self, top_losses_link: str | None = None) -> str:
        lines = [
            f"## Error analysis of {self.model} on the holdout ({self.rows:,} rows, threshold {self.threshold:g})",
            "",
            "| class | support | predicted | precision | recall |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c.label} | {c.support:,} | {c.predicted:,} | {_f(c.precision)} | {_f(c.recall)} |"
            for c in self.classes
        ]
        lines += [
            "",
            f"Slices, worst {self.metric} first:",
            "",
            f"| slice | support | positives | precision | recall | {self.metric} [95% CI] | mean log loss |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in self.slices:
            interval = "-" if s.metric is None else f"{s.metric.value:.4f} [{s.metric.low:.4f}, {s.metric.high:.4f}]"
            lines.append(
                f"| {s.column}={s.value} | {s.support:,} | {s.positives:,} | {_f(s.precision)} | {_f(s.recall)} "
                f"| {interval} | {s.mean_loss:.4f} |"
            )
        if top_losses_link:
            lines += ["", f"The {len(self.top_losses)} highest-loss holdout rows: `{top_losses_link}`"]
        return "\n".join(lines) + "\n"


def row_losses(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-row log loss (the loss every probabilistic metric here rewards lowering)."""
    eps = np.finfo(np.float64).eps
    clipped = np.clip(proba, eps, 1 - eps)
    losses: np.ndarray = -np.where(y == 1, np.log(clipped), np.log1p(-clipped))
    return losses


def analyze_errors(
    model: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    rows: pd.DataFrame,
    ev: Evaluation,
    threshold: float | None = None,
) -> ErrorAnalysis:
    """Per class and per slice (``ev.slices`` columns of ``rows``), and the ``ev.top_loss_rows`` costliest rows.

    ``rows`` is the holdout frame in the order of the predictions (ids, features, everything to inspect).
    """
    y, p = m.as_arrays(y_true, proba)
    if len(rows) != len(y):
        raise ValueError(f"rows has {len(rows)} rows but there are {len(y)} predictions")
    cut = ev.threshold if threshold is None else threshold
    predicted = (p >= cut).astype(np.int64)
    losses = row_losses(y, p)
    classes = tuple(_class_errors(label, y, predicted) for label in (0, 1))
    slices = [s for column in ev.slices for s in _slice_errors(column, rows[column], y, p, predicted, losses, ev)]
    higher = m.higher_is_better(ev.primary_metric)
    slices.sort(key=lambda s: (s.metric is None, (s.metric.value if higher else -s.metric.value) if s.metric else 0.0))
    order = np.argsort(-losses, kind="stable")[: ev.top_loss_rows]
    top = (
        rows.iloc[order]
        .reset_index(drop=True)
        .assign(label=y[order], probability=p[order], predicted=predicted[order], loss=losses[order])
    )
    return ErrorAnalysis(model, ev.primary_metric, cut, len(y), classes, tuple(slices), top)


def _class_errors(label: int, y: np.ndarray, predicted: np.ndarray) -> ClassErrors:
    truth, guess = y == label, predicted == label
    hit = int((truth & guess).sum())
    support, flagged = int(truth.sum()), int(guess.sum())
    return ClassErrors(label, support, flagged, hit / flagged if flagged else None, hit / support if support else None)


def _slice_errors(
    column: str,
    values: pd.Series,
    y: np.ndarray,
    p: np.ndarray,
    predicted: np.ndarray,
    losses: np.ndarray,
    ev: Evaluation,
) -> list[SliceErrors]:
    keys = np.array([MISSING if pd.isna(v) else str(v) for v in values.to_numpy(dtype=object)], dtype=object)
    out = []
    for value in sorted(set(keys)):
        mask = keys == value
        support, positives = int(mask.sum()), int(y[mask].sum())
        if support < ev.min_slice_rows:
            continue
        positive = _class_errors(1, y[mask], predicted[mask])
        metric = None
        if 0 < positives < support:
            est = m.estimate_metrics(y[mask], p[mask], [ev.primary_metric], ev.bootstrap, ev.threshold)[
                ev.primary_metric
            ]
            metric = MetricEstimate(ev.primary_metric, est.value, est.low, est.high)
        out.append(
            SliceErrors(
                str(column),
                value,
                support,
                positives,
                positive.precision,
                positive.recall,
                metric,
                float(losses[mask].mean()),
            )
        )
    return out


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
