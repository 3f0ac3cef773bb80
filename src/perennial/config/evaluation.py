"""Metrics, bootstrap intervals, slices and business cost on the holdout: the ``evaluation`` section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from perennial.config.base import Frozen

# which metrics fit which task: core/task.py METRICS_BY_TASK (checked on the whole config)
Metric = Literal[
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
    "f1",
    "accuracy",  # binary
    "macro_f1",
    "balanced_accuracy",
    "top_k_accuracy",  # multiclass (with log_loss, accuracy)
    "mae",
    "rmse",
    "r2",
    "mape",
    "pinball",  # regression
]


class Bootstrap(Frozen):
    """Percentile-bootstrap intervals of a metric (gates, monitoring windows).

    ``max_rows``: past this many rows the resamples are drawn from a seeded subset of that size, and
    their spread is narrowed by sqrt(subset / rows) around the value on every row (an m-out-of-n
    bootstrap): the interval of a 20M-row window in seconds, not minutes, and as wide to within its
    resampling noise (every metric here is an average or a rank statistic, whose spread falls as 1/sqrt(rows)).
    """

    resamples: int = Field(default=300, ge=50)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 7
    max_rows: int = Field(default=200_000, ge=1_000)


class CostMatrix(Frozen):
    """What a decision is worth: per false positive, per false negative, and value per true positive.

    The decision threshold is chosen on a validation slice (the latest ``validation_share`` of the
    training window, scored by a copy of the candidate fitted on the earlier rows) to minimise the
    expected cost; the holdout only reports it.
    """

    false_positive: float = Field(default=0.0, ge=0)
    false_negative: float = Field(default=0.0, ge=0)
    true_positive_value: float = Field(default=0.0, ge=0)
    unit: str = "cost units"
    validation_share: float = Field(default=0.2, gt=0, le=0.5)

    @model_validator(mode="after")
    def _something_costs(self) -> CostMatrix:
        if not (self.false_positive or self.false_negative or self.true_positive_value):
            raise ValueError("a cost matrix needs a non-zero false_positive, false_negative or true_positive_value")
        return self


class RegressionCost(Frozen):
    """What an error costs in a regression: per unit predicted too low, per unit predicted too high.

    With ``shift_prediction`` the served value moves by the residual quantile
    under / (under + over) found on validation rows, the constant shift that minimises this cost.
    """

    under: float = Field(gt=0, description="cost per unit the prediction falls short of the truth")
    over: float = Field(gt=0, description="cost per unit the prediction exceeds the truth")
    unit: str = "cost units"
    shift_prediction: bool = False
    validation_share: float = Field(default=0.2, gt=0, le=0.5)


class ClassCost(Frozen):
    """A multiclass cost matrix: ``matrix[true][predicted]``, 0 where unset (a right answer costs 0).

    Training reports the holdout's cost of the most probable class and of the class of least
    expected cost under the predicted probabilities; the served label stays the most probable class.
    """

    matrix: dict[str, dict[str, float]]
    unit: str = "cost units"

    @field_validator("matrix", mode="before")
    @classmethod
    def _classes_as_text(cls, matrix: Any) -> Any:
        """Classes are named as text (as the probabilities' keys are): YAML reads ``{5: {6: 1.0}}``,
        keys as the data writes whole-number classes, as numbers."""
        if not isinstance(matrix, dict):
            return matrix
        return {
            str(t): {str(p): c for p, c in row.items()} if isinstance(row, dict) else row for t, row in matrix.items()
        }

    @model_validator(mode="after")
    def _non_negative(self) -> ClassCost:
        bad = [f"{t}->{p}" for t, row in self.matrix.items() for p, c in row.items() if c < 0]
        if bad:
            raise ValueError(f"costs must be >= 0: {bad}")
        if not any(c for row in self.matrix.values() for c in row.values()):
            raise ValueError("a class cost matrix needs at least one non-zero cost")
        return self


class Importance(Frozen):
    """Permutation importance on the holdout, on a bounded sample (cost grows with rows x features x repeats)."""

    max_rows: int = Field(default=5000, ge=50)
    repeats: int = Field(default=3, ge=1)


class Evaluation(Frozen):
    primary_metric: Metric = "roc_auc"
    secondary_metrics: tuple[Metric, ...] = ("average_precision", "log_loss", "brier")
    threshold: float = Field(default=0.5, gt=0, lt=1)
    bootstrap: Bootstrap = Bootstrap()
    slices: tuple[str, ...] = ()
    min_slice_rows: int = Field(default=200, ge=1)
    latency_rows: int = Field(default=1000, ge=1)
    cost: CostMatrix | None = None  # binary
    regression_cost: RegressionCost | None = None
    class_cost: ClassCost | None = None  # multiclass
    top_k: int = Field(default=2, ge=1, description="k of top_k_accuracy (multiclass)")
    quantile: float = Field(default=0.5, gt=0, lt=1, description="quantile of the pinball loss (regression)")
    top_loss_rows: int = Field(default=50, ge=1, description="highest-loss holdout rows kept for inspection")
    importance: Importance = Importance()
