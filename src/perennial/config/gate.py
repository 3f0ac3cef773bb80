"""What a candidate must show to become champion: the ``gate`` section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from perennial.config.base import Frozen
from perennial.config.evaluation import Metric


class MinEvidence(Frozen):
    """The least evidence a verdict needs; below it the gate is inconclusive and the champion stays."""

    holdout_rows: int = Field(default=500, ge=1)
    rows_per_class: int = Field(
        default=20,
        ge=0,
        description="rows of each class (classification); 0: no class minimum (classes too rare to judge)",
    )
    # the widest interval a check of a 0-1 metric (AUC, F1, accuracy, Brier...) may rest on; None: any width
    max_interval_width: float | None = Field(default=0.1, gt=0)
    # a short holdout reaches back over the most recent labelled rows before it (training keeps at
    # least as many rows as the holdout takes); the gate report names the span used
    extend_holdout: bool = True


class Gate(Frozen):
    mode: Literal["off", "dry-run", "enforced"] = "enforced"
    # auto: a version the gate lets through becomes champion at once; manual: it stays challenger
    # (for shadow and canary) until `perennial promote` runs the gate again
    promotion: Literal["auto", "manual"] = "auto"
    min_primary: float | None = None
    min_lift_over_baseline: float | None = Field(default=0.0)
    # non-inferior with confidence: the lower bound of the paired bootstrap improvement (candidate
    # minus champion, on rows the champion never trained on) must be above -this margin; a retrain
    # asked for by a drop or drift whose best plausible gain is below it is the same model (fails)
    max_regression_vs_champion: float | None = Field(default=0.01, ge=0)
    # more metrics judged the same way against the champion, each with its own margin
    champion_margins: dict[Metric, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    # a retrain asked for by a performance drop must beat the champion with confidence: the lower
    # bound of the improvement above this (None: judged like any other retrain)
    min_improvement_after_decay: float | None = Field(default=0.0, ge=0)
    # the same for a retrain asked for by drift alone (monitoring.retraining.drift_needs_drop off): one
    # that merely matches the champion changes the version and nothing else, churn the loop must not
    # make (None: judged like any other retrain)
    min_improvement_after_drift: float | None = Field(default=0.0, ge=0)
    min_evidence: MinEvidence = MinEvidence()
    min_slice_primary: float | None = None
    max_slice_regression_vs_champion: float | None = Field(default=None, ge=0)
    max_latency_ms_per_row: float | None = Field(default=None, gt=0)
    max_model_size_mb: float | None = Field(default=None, gt=0)
    # expected cost per holdout row at the threshold chosen on validation data (needs evaluation.cost)
    max_expected_cost: float | None = None
    # multiclass: no class's recall may fall more than this below the champion's (per class overrides)
    max_class_recall_drop: float | None = Field(default=None, ge=0)
    class_recall_drop: dict[str, float] = Field(default_factory=dict)
