"""Business cost for regression (asymmetric under/over cost) and multiclass (a cost matrix).

Regression: a row costs ``under`` per unit the prediction falls short and ``over`` per unit it
overshoots. The constant shift of the predictions that minimises that cost is the residual
quantile under / (under + over) (the pinball loss's minimiser); it is found on validation rows,
and the holdout reports the cost with and without it. Multiclass: ``matrix[true][predicted]``;
the least-cost decision picks, per row, the class whose expected cost under the predicted
probabilities is lowest, instead of the most probable class. Pure: arrays in, frozen reports out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from perennial.config import ClassCost, RegressionCost
from perennial.core.gates import Check
from perennial.core.task_metrics import multiclass_arrays, regression_arrays


def regression_cost(y_true: object, predicted: object, cost: RegressionCost, shift: float = 0.0) -> float:
    """Mean cost per row of serving ``predicted + shift``."""
    y, p = regression_arrays(y_true, predicted)
    error = y - (p + shift)  # > 0: predicted too low
    return float(np.mean(np.where(error > 0, cost.under * error, -cost.over * error))) if len(y) else float("nan")


def cost_quantile(cost: RegressionCost) -> float:
    """The quantile of the truth the served value should aim at: under / (under + over)."""
    return cost.under / (cost.under + cost.over)


def choose_shift(y_val: object, predicted_val: object, cost: RegressionCost) -> float:
    """The constant added to every prediction that minimises the cost on validation rows."""
    y, p = regression_arrays(y_val, predicted_val)
    if len(y) == 0:
        raise ValueError("choosing a prediction shift needs at least one validation row")
    return float(np.quantile(y - p, cost_quantile(cost)))


@dataclass(frozen=True, slots=True)
class RegressionCostReport:
    unit: str
    quantile: float
    shift: float  # chosen on validation rows; 0 unless cost.shift_prediction
    holdout_cost: float  # per row, as served (shifted when shift_prediction)
    holdout_cost_unshifted: float
    holdout_rows: int

    def metrics(self) -> dict[str, float]:
        return {
            "expected_cost": self.holdout_cost,
            "expected_cost_total": self.holdout_cost * self.holdout_rows,
            "expected_cost_unshifted": self.holdout_cost_unshifted,
            "prediction_shift": self.shift,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def regression_cost_report(
    y_val: object, predicted_val: object, y_holdout: object, predicted_holdout: object, cost: RegressionCost
) -> RegressionCostReport:
    """Choose the shift on validation rows (when asked), report the holdout cost with and without it."""
    shift = choose_shift(y_val, predicted_val, cost) if cost.shift_prediction else 0.0
    y, p = regression_arrays(y_holdout, predicted_holdout)
    return RegressionCostReport(
        cost.unit, cost_quantile(cost), shift, regression_cost(y, p, cost, shift), regression_cost(y, p, cost), len(y)
    )


def cost_matrix(cost: ClassCost, classes: Sequence[object]) -> np.ndarray:
    """``matrix[i, j]``: the cost of predicting ``classes[j]`` when the truth is ``classes[i]``."""
    names = [str(c) for c in classes]
    unknown = sorted(({*cost.matrix} | {p for row in cost.matrix.values() for p in row}) - set(names))
    if unknown:
        raise ValueError(f"evaluation.class_cost names classes {unknown} the model does not know; classes: {names}")
    return np.array([[cost.matrix.get(t, {}).get(p, 0.0) for p in names] for t in names], dtype=np.float64)


def least_cost_decision(proba: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Per row, the index of the class with the lowest expected cost (ties to the most probable)."""
    expected = proba @ matrix  # rows x predicted class: sum over true class of p(true) * cost
    best = expected.min(axis=1, keepdims=True)
    tied = np.isclose(expected, best, rtol=0, atol=1e-12)
    decision: np.ndarray = np.where(tied, proba, -np.inf).argmax(axis=1)
    return decision


@dataclass(frozen=True, slots=True)
class ClassCostReport:
    unit: str
    holdout_cost: float  # per row, serving the least-cost class
    holdout_cost_argmax: float  # per row, serving the most probable class
    holdout_rows: int
    changed_rows: int  # rows whose served class differs from the most probable one

    def metrics(self) -> dict[str, float]:
        return {
            "expected_cost": self.holdout_cost,
            "expected_cost_total": self.holdout_cost * self.holdout_rows,
            "expected_cost_argmax": self.holdout_cost_argmax,
            "cost_changed_rows": float(self.changed_rows),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def class_cost_report(y_holdout: object, proba: object, classes: Sequence[object], cost: ClassCost) -> ClassCostReport:
    """The holdout's realised cost per row, deciding by least expected cost and by argmax."""
    index, p = multiclass_arrays(y_holdout, proba, classes)
    matrix = cost_matrix(cost, classes)
    rows = np.arange(len(index))
    least, argmax = least_cost_decision(p, matrix), p.argmax(axis=1)

    def mean(d: np.ndarray) -> float:
        return float(matrix[index, d].mean()) if len(index) else float("nan")

    return ClassCostReport(cost.unit, mean(least), mean(argmax), len(rows), int((least != argmax).sum()))


def task_cost_check(holdout_cost: float, ceiling: float, unit: str, how: str) -> Check:
    """The gate check on expected cost per holdout row (regression or multiclass)."""
    passed = bool(np.isfinite(holdout_cost) and holdout_cost <= ceiling)
    detail = f"{holdout_cost:.4g} {'<=' if passed else '>'} {ceiling:.4g} {unit}/row ({how})"
    return Check("expected cost", holdout_cost, ceiling, passed, detail)
