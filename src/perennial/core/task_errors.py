"""Where a regressor or a multiclass model is wrong: residuals and worst rows; confusions per class.

Regression: the residual (truth minus prediction) overall and per slice value (bias and mean
absolute error, worst first), the rows with the largest absolute residual, and two figures
(residuals against prediction, predicted against actual). Multiclass: the confusion matrix, each
class's support, precision, recall and the class it is most often mistaken for, the rows with the
highest log loss, and the confusion figure. Calibration curves stay binary-only (one probability).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from perennial.config import Evaluation
from perennial.core.evaluation import MISSING
from perennial.core.task_metrics import multiclass_arrays, regression_arrays


@dataclass(frozen=True, slots=True)
class ResidualSlice:
    column: str
    value: str
    rows: int
    bias: float  # mean residual: > 0 the model predicts too low here
    mae: float


@dataclass(frozen=True, slots=True)
class RegressionErrors:
    model: str
    rows: int
    bias: float
    mae: float
    residual_quantiles: tuple[tuple[float, float], ...]  # (quantile, residual)
    slices: tuple[ResidualSlice, ...]  # worst MAE first
    worst_rows: pd.DataFrame  # largest absolute residual first, with actual, predicted, residual

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "rows": self.rows,
            "bias": self.bias,
            "mae": self.mae,
            "residual_quantiles": [list(q) for q in self.residual_quantiles],
            "slices": [vars_of(s) for s in self.slices],
            "worst_rows": len(self.worst_rows),
        }

    @property
    def top_losses(self) -> pd.DataFrame:
        return self.worst_rows

    def to_markdown(self, top_losses_link: str | None = None) -> str:
        lines = [
            f"## Error analysis of {self.model} on the holdout ({self.rows:,} rows)",
            "",
            f"Mean residual (truth - prediction) {self.bias:+.4g}, MAE {self.mae:.4g}. Residual quantiles: "
            + ", ".join(f"q{q:g} {r:+.4g}" for q, r in self.residual_quantiles),
            "",
            "| slice | rows | bias | MAE |",
            "|---|---|---|---|",
        ]
        lines += [f"| {s.column}={s.value} | {s.rows:,} | {s.bias:+.4g} | {s.mae:.4g} |" for s in self.slices]
        if top_losses_link:
            lines += ["", f"The {len(self.worst_rows)} rows with the largest absolute residual: `{top_losses_link}`"]
        return "\n".join(lines) + "\n"


def analyze_regression_errors(
    model: str, y_true: object, predicted: object, rows: pd.DataFrame, ev: Evaluation
) -> RegressionErrors:
    """Residuals overall and per ``ev.slices`` value; the ``ev.top_loss_rows`` worst rows of ``rows``."""
    y, p = regression_arrays(y_true, predicted)
    if len(rows) != len(y):
        raise ValueError(f"rows has {len(rows)} rows but there are {len(y)} predictions")
    residual = y - p
    slices = []
    for column in ev.slices:
        keys = _keys(rows[column])
        for value in sorted(set(keys)):
            mask = keys == value
            if mask.sum() >= ev.min_slice_rows:
                slices.append(
                    ResidualSlice(
                        column,
                        value,
                        int(mask.sum()),
                        float(residual[mask].mean()),
                        float(np.abs(residual[mask]).mean()),
                    )
                )
    slices.sort(key=lambda s: -s.mae)
    order = np.argsort(-np.abs(residual), kind="stable")[: ev.top_loss_rows]
    worst = (
        rows.iloc[order].reset_index(drop=True).assign(actual=y[order], predicted=p[order], residual=residual[order])
    )
    quantiles = tuple((q, float(np.quantile(residual, q))) for q in (0.05, 0.25, 0.5, 0.75, 0.95)) if len(y) else ()
    bias = float(residual.mean()) if len(y) else float("nan")
    mae = float(np.abs(residual).mean()) if len(y) else float("nan")
    return RegressionErrors(model, len(y), bias, mae, quantiles, tuple(slices), worst)


@dataclass(frozen=True, slots=True)
class ClassConfusion:
    name: str
    support: int
    predicted: int
    precision: float | None  # None when nothing was predicted as this class
    recall: float | None  # None when the holdout has no row of this class
    mistaken_for: str | None  # the class its rows are most often predicted as, when wrong


@dataclass(frozen=True, slots=True)
class MulticlassErrors:
    model: str
    rows: int
    classes: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]  # [true][predicted], in ``classes`` order
    per_class: tuple[ClassConfusion, ...]
    worst_rows: pd.DataFrame  # highest log loss first, with actual, predicted, the true class's probability

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "rows": self.rows,
            "classes": list(self.classes),
            "confusion": [list(r) for r in self.confusion],
            "per_class": [vars_of(c) for c in self.per_class],
            "worst_rows": len(self.worst_rows),
        }

    @property
    def top_losses(self) -> pd.DataFrame:
        return self.worst_rows

    def to_markdown(self, top_losses_link: str | None = None) -> str:
        head = "| true \\ predicted | " + " | ".join(self.classes) + " |"
        lines = [
            f"## Error analysis of {self.model} on the holdout ({self.rows:,} rows)",
            "",
            head,
            "|---" * (len(self.classes) + 1) + "|",
        ]
        lines += [
            f"| {c} | " + " | ".join(f"{n:,}" for n in row) + " |"
            for c, row in zip(self.classes, self.confusion, strict=True)
        ]
        lines += [
            "",
            "| class | support | predicted | precision | recall | most often mistaken for |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {c.name} | {c.support:,} | {c.predicted:,} | {_f(c.precision)} | {_f(c.recall)} | {c.mistaken_for or '-'} |"
            for c in self.per_class
        ]
        if top_losses_link:
            lines += ["", f"The {len(self.worst_rows)} highest-loss holdout rows: `{top_losses_link}`"]
        return "\n".join(lines) + "\n"


def analyze_multiclass_errors(
    model: str, y_true: object, proba: object, classes: Sequence[object], rows: pd.DataFrame, ev: Evaluation
) -> MulticlassErrors:
    """The confusion matrix, each class's errors, and the ``ev.top_loss_rows`` highest-loss rows of ``rows``."""
    index, p = multiclass_arrays(y_true, proba, classes)
    if len(rows) != len(index):
        raise ValueError(f"rows has {len(rows)} rows but there are {len(index)} predictions")
    names, k = tuple(str(c) for c in classes), len(classes)
    guess = p.argmax(axis=1)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (index, guess), 1)
    per_class = []
    for i, name in enumerate(names):
        support, predicted, hit = int(matrix[i].sum()), int(matrix[:, i].sum()), int(matrix[i, i])
        wrong = matrix[i].copy()
        wrong[i] = 0
        per_class.append(
            ClassConfusion(
                name,
                support,
                predicted,
                hit / predicted if predicted else None,
                hit / support if support else None,
                names[int(wrong.argmax())] if wrong.any() else None,
            )
        )
    true_p = p[np.arange(len(index)), index] if len(index) else np.array([])
    loss = -np.log(np.clip(true_p, np.finfo(np.float64).eps, 1))
    order = np.argsort(-loss, kind="stable")[: ev.top_loss_rows]
    labels = np.asarray(names, dtype=object)
    worst = (
        rows.iloc[order]
        .reset_index(drop=True)
        .assign(
            actual=labels[index[order]],
            predicted=labels[guess[order]],
            true_class_probability=true_p[order],
            loss=loss[order],
        )
    )
    return MulticlassErrors(
        model, len(index), names, tuple(tuple(int(n) for n in r) for r in matrix), tuple(per_class), worst
    )


def residual_figure(model: str, y_true: object, predicted: object) -> Figure:
    """Residuals against prediction (left) and predicted against actual (right)."""
    y, p = regression_arrays(y_true, predicted)
    fig = Figure(figsize=(9, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.scatter(p, y - p, s=4, alpha=0.3)
    left.axhline(0, color="grey", linestyle="--", linewidth=1)
    left.set_xlabel("predicted")
    left.set_ylabel("residual (actual - predicted)")
    right.scatter(y, p, s=4, alpha=0.3)
    if len(y):
        low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        right.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    right.set_xlabel("actual")
    right.set_ylabel("predicted")
    fig.suptitle(f"{model} on the holdout", fontsize=10)
    return fig


def multiclass_confusion_figure(errors: MulticlassErrors) -> Figure:
    """The confusion matrix with counts and each true class's row share."""
    matrix = np.array(errors.confusion)
    k = len(errors.classes)
    fig = Figure(figsize=(1.2 * k + 2.5, 1.1 * k + 2), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    totals = matrix.sum(axis=1, keepdims=True)
    for (i, j), count in np.ndenumerate(matrix):
        share = count / totals[i, 0] if totals[i, 0] else 0.0
        ax.text(
            j,
            i,
            f"{count}\n{share:.0%}",
            ha="center",
            va="center",
            color="white" if count > matrix.max() / 2 else "black",
            fontsize=8,
        )
    ax.set_xticks(range(k), errors.classes, rotation=30, ha="right")
    ax.set_yticks(range(k), errors.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(f"{errors.model} on the holdout", fontsize=10)
    return fig


def _keys(values: pd.Series) -> np.ndarray:
    return np.array([MISSING if pd.isna(v) else str(v) for v in values.to_numpy(dtype=object)], dtype=object)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def vars_of(item: object) -> dict[str, Any]:
    """A slotted dataclass as a JSON-safe dict (NaN becomes None)."""
    out = {name: getattr(item, name) for name in item.__slots__}  # type: ignore[attr-defined]
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}
