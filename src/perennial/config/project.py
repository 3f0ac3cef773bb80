"""The whole config: its sections together (``tracking``, two keys, lives here), the rules that hold across
them, and its record (fingerprint, masked JSON)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from perennial.config.base import Frozen
from perennial.config.data import Data, SqlSource
from perennial.config.evaluation import Evaluation
from perennial.config.gate import Gate
from perennial.config.messages import describe
from perennial.config.monitoring import Monitoring
from perennial.config.serving import ParquetStore, Release, Serving, SqlStore
from perennial.config.split import HashSplit, Split, TimeSplit
from perennial.config.training import Training
from perennial.config.validation import Validation
from perennial.core.names import reserved_feature_reason
from perennial.core.secrets import mask_secrets
from perennial.core.task import BASELINES, DEFAULT_BASELINE, DEFAULT_METRICS, FAMILIES, METRICS_BY_TASK, TASKS, Task
from perennial.errors import ConfigError


class Tracking(Frozen):
    experiment: str
    registered_model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Config(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    task: Task = "binary"
    data: Data
    split: Split = HashSplit()
    validation: Validation = Validation()
    training: Training
    evaluation: Evaluation = Evaluation()
    gate: Gate = Gate()
    tracking: Tracking
    serving: Serving = Serving()
    release: Release = Release()
    monitoring: Monitoring = Monitoring()
    predictions: Annotated[ParquetStore | SqlStore, Field(discriminator="kind")] = ParquetStore()
    # the file it was read from, for the commands a message suggests (not a key: never in the file)
    _path: str | None = PrivateAttr(default=None)

    @property
    def flag(self) -> str:
        """``-c <its file>`` for a command a message suggests; ``-c <config>`` when it was not read from a file."""
        return f"-c {self._path or '<config>'}"

    @model_validator(mode="after")
    def _columns_known(self) -> Config:
        known = set(self.data.features.columns) | {self.data.target.column, self.data.time_column}
        unknown_slices = [s for s in self.evaluation.slices if s not in known]
        if unknown_slices:
            raise ValueError(f"evaluation.slices names columns that are not features: {unknown_slices}")
        reserved = [c for c in self.data.features.columns if reserved_feature_reason(c)]
        if reserved:
            raise ValueError(
                f"data.features name {reserved}: {reserved_feature_reason(reserved[0])} (in the data and the config)"
            )
        unknown_ranges = [c for c in self.validation.ranges if c not in self.data.features.numeric]
        if unknown_ranges:
            raise ValueError(f"validation.ranges names columns that are not numeric features: {unknown_ranges}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, raw: Any) -> Any:
        # metrics and baseline left unset take the task's defaults (binary's would not apply)
        if not isinstance(raw, dict) or raw.get("task", "binary") == "binary" or raw.get("task") not in TASKS:
            return raw
        task = raw["task"]
        primary, secondary = DEFAULT_METRICS[task]
        evaluation = dict(raw.get("evaluation") or {})
        evaluation.setdefault("primary_metric", primary)
        evaluation.setdefault("secondary_metrics", [m for m in secondary if m != evaluation["primary_metric"]])
        training = raw.get("training")
        if isinstance(training, dict) and "baseline" not in training:
            training = {**training, "baseline": DEFAULT_BASELINE[task]}
        return {**raw, "evaluation": evaluation, **({"training": training} if training is not None else {})}

    @model_validator(mode="after")
    def _fits_task(self) -> Config:
        task, ev = self.task, self.evaluation
        wrong = [m for m in (ev.primary_metric, *ev.secondary_metrics) if m not in METRICS_BY_TASK[task]]
        if wrong:
            raise ValueError(
                f"evaluation metrics {wrong} do not apply to task '{task}'; use {list(METRICS_BY_TASK[task])}"
            )
        if self.training.baseline not in BASELINES[task]:
            raise ValueError(
                f"training.baseline '{self.training.baseline}' does not apply to task '{task}'; "
                f"use one of {list(BASELINES[task])}"
            )
        families = [c.name for c in self.training.candidates if c.family not in FAMILIES[task]]
        if families:
            raise ValueError(
                f"candidates {families} use a family that cannot fit a {task} target; use one of {list(FAMILIES[task])}"
            )
        costs = {"cost": "binary", "regression_cost": "regression", "class_cost": "multiclass"}
        misplaced = [k for k, t in costs.items() if getattr(ev, k) is not None and t != task]
        if misplaced:
            raise ValueError(f"evaluation.{misplaced[0]} is for a {costs[misplaced[0]]} task, not '{task}'")
        if (self.gate.max_class_recall_drop is not None or self.gate.class_recall_drop) and task != "multiclass":
            raise ValueError("gate.max_class_recall_drop and gate.class_recall_drop apply to task 'multiclass' only")
        return self

    @model_validator(mode="after")
    def _time_rules_need_time(self) -> Config:
        if self.data.time_column is None:
            if isinstance(self.split, TimeSplit):
                raise ValueError("split: a time split (train_end/holdout_end) needs data.time_column")
            if self.validation.freshness is not None:
                raise ValueError("validation.freshness needs data.time_column")
        return self

    @model_validator(mode="after")
    def _batch_windows_stand_alone(self) -> Config:
        monitoring = self.monitoring
        if monitoring.window != "batch":
            return self
        if self.data.time_column is not None:
            raise ValueError(
                f"monitoring.window batch is for tables without data.time_column (rows stamped with their "
                f"scoring time); with {self.data.time_column!r} use day, week or month"
            )
        if self.data.engine.kind == "dask":
            raise ValueError("monitoring.window batch needs data.engine pandas (a batch is one frame)")
        if monitoring.reference.kind != "training":
            raise ValueError(
                f"monitoring.reference {monitoring.reference.kind} reads windows of dates: with monitoring.window "
                "batch use training"
            )
        return self

    @model_validator(mode="after")
    def _regression_tolerance_in_units(self) -> Config:
        # the default 0.03 is a score's drop (AUC, accuracy); in a target's units it could be anything,
        # and too small a tolerance retrains on noise: a regression config says its own
        if self.task == "regression" and "performance_tolerance" not in self.monitoring.retraining.model_fields_set:
            raise ValueError(
                f"monitoring.retraining.performance_tolerance must be set for task 'regression': the rise in "
                f"{self.evaluation.primary_metric} over the champion's holdout figure that counts as a drop, in "
                "the target's units (the default 0.03 is for scores between 0 and 1; perennial init suggests one)"
            )
        return self

    @model_validator(mode="after")
    def _cost_gate_has_costs(self) -> Config:
        key = {"binary": "cost", "regression": "regression_cost", "multiclass": "class_cost"}[self.task]
        if self.gate.max_expected_cost is not None and getattr(self.evaluation, key) is None:
            raise ValueError(f"gate.max_expected_cost needs evaluation.{key} (the {self.task} task's costs)")
        return self

    @model_validator(mode="after")
    def _dask_engine_fits(self) -> Config:
        if self.data.engine.kind != "dask":
            return self
        if isinstance(self.data.source, SqlSource) or self.data.source.kind == "jsonl":
            raise ValueError("data.engine kind 'dask' reads a Parquet or CSV source (file, directory or glob)")
        if self.data.id_column is None:
            # a key from the row's content numbers repeated rows within the whole window, not a partition
            raise ValueError("data.engine kind 'dask' needs data.id_column (row keys must not depend on partitions)")
        if not isinstance(self.predictions, ParquetStore):
            raise ValueError("data.engine kind 'dask' writes a Parquet prediction store (predictions.kind: parquet)")
        return self

    def fingerprint(self) -> str:
        """A short hash of the resolved config: tags every model with what produced it."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_record(self) -> dict[str, Any]:
        """The resolved config as JSON for MLflow and logs, with passwords in URLs masked."""
        masked: dict[str, Any] = _mask_urls(self.model_dump(mode="json"))
        return masked

    def with_split(
        self, train_end: dt.date | None = None, holdout_end: dt.date | None = None, train_start: dt.date | None = None
    ) -> Config:
        """The same config with the time split moved (schedules and retrains pass a window; a retry on
        the newer windows its first day too).

        A hash split has no window: it is returned unchanged.
        """
        moved = {"train_end": train_end, "holdout_end": holdout_end, "train_start": train_start}
        if not isinstance(self.split, TimeSplit) or not any(moved.values()):
            return self
        split = self.split.model_dump()
        split.update({k: v for k, v in moved.items() if v})
        try:
            return self.model_copy(update={"split": TimeSplit(**split)})
        except ValidationError as exc:
            raise ConfigError(f"split override is invalid: {describe(exc, Config)}") from exc


def _mask_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_urls(v) for v in value]
    return mask_secrets(value) if isinstance(value, str) else value
