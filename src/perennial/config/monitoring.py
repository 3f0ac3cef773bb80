"""Windows, delayed labels, drift and the retrain policy: the ``monitoring`` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from perennial.config.base import Frozen
from perennial.config.data import Source


class Retraining(Frozen):
    """When monitoring asks for a retrain: k bad windows of the last n, then a cooldown."""

    drift_share: float = Field(default=0.5, gt=0, le=1, description="share of drifted columns that counts as drift")
    performance_tolerance: float = Field(
        default=0.03,
        ge=0,
        description="drop below the champion's holdout figure (or its live level, once its first labelled "
        "windows surely beat that figure by more than this), in the primary metric's units; a regression config must set it (the target's units: perennial init suggests a twentieth of a mean predictor's MAE)",
    )
    k: int = Field(default=2, ge=1)
    n: int = Field(default=3, ge=1)
    cooldown_days: float = Field(default=14, ge=0)
    drift_needs_drop: bool = Field(
        default=False,
        description="drift asks for a retrain only when the latest window's performance drop beyond "
        "performance_tolerance is measured (labels) or, short of labels, estimated (binary roc_auc: CBPE; "
        "regression mae or rmse: direct loss estimation; multiclass accuracy or macro_f1: calibrated CBPE); "
        "false: drift alone does",
    )
    episode_retries: int = Field(
        default=1,
        ge=0,
        description="retrains more in one drift episode when its retrain ended inconclusive (too little evidence)",
    )

    @model_validator(mode="after")
    def _k_of_n(self) -> Retraining:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) cannot exceed n ({self.n})")
        return self


class DriftReference(Frozen):
    """What a window's drift is measured against (the report names the one used)."""

    kind: Literal["training", "rolling", "year_earlier"] = Field(
        default="training",
        description="training: the champion's training data; rolling: the prediction store's rows of the "
        "`windows` windows before this one; year_earlier: its rows of the same window a year before",
    )
    windows: int = Field(default=4, ge=1, description="rolling: how many windows before this one")
    min_rows: int = Field(
        default=1000,
        ge=1,
        description="fewer stored rows in that span: the champion's training data stands in, and the report says why",
    )
    max_rows: int = Field(
        default=1_000_000, ge=1000, description="a longer span is sampled down to this many rows (seeded)"
    )


class Monitoring(Frozen):
    window: Literal["day", "week", "month", "batch"] = Field(
        default="week",
        description="day, week or month of event time; batch (tables without data.time_column): each "
        "`perennial score` is a window of its own",
    )
    labels: Source | None = Field(default=None, description="delayed labels keyed by id; default: the data source")
    min_labelled_rows: int = Field(default=200, ge=1)
    min_drift_rows: int = Field(
        default=200,
        ge=1,
        description="a window with fewer rows is reported but not judged on drift: a distance measured on a "
        "few dozen rows is mostly their noise (30 rows 'drifted' on 30 of 31 columns)",
    )
    report_sample_rows: int = Field(default=5000, ge=100, description="rows in the Evidently HTML report")
    report_max_columns: int = Field(
        default=30,
        ge=1,
        description="columns on the Evidently HTML report: the most drifted (and the score); the engine's "
        "verdicts test every column, while the page's time and size grow with each column it draws",
    )
    service_url: str | None = Field(
        default=None, description="the running service, e.g. http://127.0.0.1:8000: its /metrics is read"
    )
    # a feature whose permutation importance fell by more than this share since the champion was trained
    max_importance_drop: float = Field(default=0.5, gt=0, le=1)
    retraining: Retraining = Retraining()
    reference: DriftReference = Field(
        default=DriftReference(), description="what each window's drift is measured against (kind, span, rows)"
    )
