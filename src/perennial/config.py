"""The project config: YAML loaded once into frozen, strict pydantic models.

An unknown key or a wrong type is an error that names the file and the key path;
``${VAR}`` and ``${VAR:-default}`` are read from the environment so that secrets
(database URLs, tokens) never live in committed files.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from perennial.core.names import Alias, ReleaseMode
from perennial.core.secrets import mask_secrets
from perennial.core.task import BASELINES, DEFAULT_BASELINE, DEFAULT_METRICS, FAMILIES, METRICS_BY_TASK, TASKS, Task
from perennial.errors import ConfigError


class Frozen(BaseModel):
    """Every config model: immutable, and an unknown key is an error, not a silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data -------------------------------------------------------------------------------


class FileSource(Frozen):
    """A file: CSV (compressed by its name's suffix: .gz .bz2 .xz .zip .zst), Parquet (a file or a
    partitioned directory) or JSON lines. ``perennial init`` sniffs the delimiter and encoding and
    writes them here; a file that does not match them is an error that says what to set."""

    kind: Literal["csv", "parquet", "jsonl"]
    path: str
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV field separator")
    encoding: str = Field(default="utf-8", description="text encoding of CSV and JSON lines, e.g. latin-1")

    @model_validator(mode="after")
    def _known_encoding(self) -> FileSource:
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding '{self.encoding}' (try utf-8, latin-1, cp1252)") from None
        return self


class SqlSource(Frozen):
    kind: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL; put credentials in ${ENV} references")
    query: str


Source = Annotated[FileSource | SqlSource, Field(discriminator="kind")]


class DatetimeFeature(Frozen):
    column: str
    parts: tuple[Literal["hour", "dayofweek", "month", "dayofyear", "is_weekend"], ...] = (
        "hour",
        "dayofweek",
    )


class Features(Frozen):
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    datetime: tuple[DatetimeFeature, ...] = ()
    # Categories rarer than this share are folded into one bucket: keeps one-hot small
    min_category_share: float = Field(default=0.001, ge=0, lt=1)

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw input columns the model reads, in a stable order."""
        return (*self.numeric, *self.categorical, *(d.column for d in self.datetime))

    def without(self, names: Iterable[str]) -> Features:
        """The same features less ``names`` (not re-validated: what is left was valid)."""
        gone = set(names)
        return self.model_copy(
            update={
                "numeric": tuple(c for c in self.numeric if c not in gone),
                "categorical": tuple(c for c in self.categorical if c not in gone),
                "datetime": tuple(d for d in self.datetime if d.column not in gone),
            }
        )

    @model_validator(mode="after")
    def _no_repeats(self) -> Features:
        cols = self.columns
        repeated = sorted({c for c in cols if cols.count(c) > 1})
        if repeated:
            raise ValueError(f"feature columns listed more than once: {repeated}")
        if not cols:
            raise ValueError("at least one feature column is needed")
        return self


LabelValue = bool | int | float | str


class Target(Frozen):
    """The label column and which of its two values is the positive class.

    ``data.target: diagnosis`` is short for ``{column: diagnosis}``. ``positive_label`` may be left
    out when the values make it plain (0/1, False/True, no/yes...); otherwise it is required.
    """

    column: str = Field(min_length=1, description="the label column: any two distinct values")
    positive_label: LabelValue | None = Field(
        default=None, description="the value that counts as positive (1); inferred from 0/1, false/true, no/yes"
    )


class DaskCluster(Frozen):
    """A Dask cluster to run on: an existing one at ``address``, else a LocalCluster started for the run."""

    address: str | None = Field(default=None, description="scheduler of an existing Dask cluster; '' = none")
    n_workers: int | None = Field(default=None, ge=1, description="LocalCluster workers; None = one per core")
    threads_per_worker: int = Field(default=1, ge=1, description="threads of each LocalCluster worker")
    memory_limit: str | None = Field(
        default=None, description="LocalCluster memory per worker, e.g. '2GiB'; None = the machine's share"
    )

    @model_validator(mode="after")
    def _address_form(self) -> DaskCluster:
        # '' comes from `address: ${DASK_ADDRESS:-}`: no cluster given, start a local one
        if self.address and not self.address.startswith(("tcp://", "tls://")):
            raise ValueError(f"address must look like tcp://host:8786, got '{self.address}'")
        if self.address and (self.n_workers or self.memory_limit):
            raise ValueError("n_workers and memory_limit size a local cluster; one at 'address' is sized by its owner")
        return self


class CandidateRunner(DaskCluster):
    """Where candidates (and their searches) train: the flow's own threads, or a Dask cluster.

    ``dask`` with no address starts a LocalCluster for the run; ``address: tcp://host:8786``
    joins an existing cluster whose workers have this checkout and its environment.
    """

    kind: Literal["thread", "dask"] = "thread"

    @model_validator(mode="after")
    def _dask_only(self) -> CandidateRunner:
        if self.kind == "thread" and (self.address or self.n_workers or self.memory_limit):
            raise ValueError("address, n_workers and memory_limit apply to kind 'dask' only")
        return self


class DataEngine(DaskCluster):
    """Where batch scoring reads and scores its window: in one pandas frame, or over Dask partitions.

    ``dask`` opens the source lazily (Parquet file, directory or glob; CSV file or glob), validates the
    window from per-partition aggregates and scores it partition by partition into the prediction
    store's day partitions; results equal the pandas path's. Its cluster: ``address``, else
    ``PERENNIAL_DASK_ADDRESS``, else a LocalCluster sized here, or no cluster at all with
    ``scheduler: synchronous`` (one partition at a time in the flow's thread: small data, tests).
    """

    kind: Literal["pandas", "dask"] = Field(
        default="pandas", description="pandas: the window in memory; dask: over partitions, out of core"
    )
    scheduler: Literal["cluster", "synchronous"] = Field(
        default="cluster", description="dask only: a cluster (address or local), or synchronous in the flow's thread"
    )

    @model_validator(mode="after")
    def _dask_only(self) -> DataEngine:
        if self.kind == "pandas" and (self.address or self.n_workers or self.memory_limit):
            raise ValueError("address, n_workers and memory_limit apply to kind 'dask' only")
        if self.scheduler == "synchronous" and (self.address or self.n_workers or self.memory_limit):
            raise ValueError("scheduler 'synchronous' runs no cluster: drop address, n_workers and memory_limit")
        return self


class Data(Frozen):
    source: Source
    id_column: str | None = Field(default=None, description="unique row id; none: a key from the row's content")
    time_column: str | None = Field(default=None, description="event time; none: random split, no freshness rules")
    target: Target
    features: Features
    engine: DataEngine = Field(
        default=DataEngine(), description="batch scoring in memory (pandas, the default) or over Dask partitions"
    )

    @model_validator(mode="before")
    @classmethod
    def _target_shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("target"), str):
            return {**raw, "target": {"column": raw["target"]}}
        return raw

    @model_validator(mode="after")
    def _roles_apart(self) -> Data:
        if self.target.column in self.features.columns:
            raise ValueError(f"target '{self.target.column}' is also listed as a feature (leakage)")
        if self.id_column is not None and self.id_column in self.features.columns:
            raise ValueError(f"id column '{self.id_column}' is also listed as a feature")
        return self


class TimeSplit(Frozen):
    """Time-based split: train on [train_start, train_end), hold out [train_end, holdout_end)."""

    kind: Literal["time"] = "time"
    train_start: dt.date | None = None
    train_end: dt.date
    holdout_end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> TimeSplit:
        if self.train_start and self.train_start >= self.train_end:
            raise ValueError("train_start must be before train_end")
        if self.train_end >= self.holdout_end:
            raise ValueError("train_end must be before holdout_end")
        return self

    @property
    def label(self) -> str:
        return str(self.holdout_end)


class HashSplit(Frozen):
    """Random split keyed on a stable hash of each row's key (the id column, else the row's content).

    A row keeps its side across retrains: a later gate never scores a model on rows it trained
    on. Cross-validation inside the training side uses ``folds`` shuffled, stratified folds.
    """

    kind: Literal["hash"] = "hash"
    holdout_share: float = Field(default=0.2, gt=0, lt=1, description="share of rows held out for evaluation")
    seed: int = Field(default=0, description="changes which rows are held out")
    folds: int = Field(default=3, ge=2, description="cross-validation folds within the training rows")

    @property
    def label(self) -> str:
        return f"hash-{self.holdout_share:g}-seed{self.seed}"


def _split_kind(raw: Any) -> str:
    """``kind`` when given; a time window (train_end/holdout_end) is the time split, else the hash split."""
    if isinstance(raw, dict):
        return raw.get("kind") or ("time" if {"train_end", "holdout_end", "train_start"} & raw.keys() else "hash")
    return getattr(raw, "kind", "hash")


Split = Annotated[Annotated[TimeSplit, Tag("time")] | Annotated[HashSplit, Tag("hash")], Discriminator(_split_kind)]


# --- validation -------------------------------------------------------------------------


class Freshness(Frozen):
    max_age_hours: float = Field(gt=0)


class Volume(Frozen):
    """Rows per day of the new data, as a ratio of the reference's rows per day."""

    min_ratio: float = Field(default=0.5, gt=0)
    max_ratio: float = Field(default=2.0, gt=0)


# rule kinds that can warn instead of block (core/validation_bounds.py: WARNABLE)
WarnableRule = Literal["nulls", "categories", "range", "unique", "freshness", "volume", "collapse", "unit_shift"]


class Validation(Frozen):
    # a column may have at most the null share of the reference's worst window (of the size below)
    # plus this margin; smaller windows get the binomial's chance variation on top
    null_margin: float = Field(default=0.05, ge=0, le=1)
    # the window size the reference's variation is measured at; default: monitoring.window
    window: Literal["day", "week", "month"] | None = None
    # broken rules of these kinds are recorded and shown but block nothing (schema, types, all-null
    # columns and labels always block)
    warnings: tuple[WarnableRule, ...] = ("nulls", "volume")
    # share of values outside the reference's categories a column may carry (new routes...)
    max_unseen_category_share: float = Field(default=0.01, ge=0, le=1)
    # physical bounds: numeric ranges are declared, never guessed from a season of data
    ranges: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    freshness: Freshness | None = None
    volume: Volume | None = Volume()


# --- training ---------------------------------------------------------------------------

# which families fit which task: core/task.py FAMILIES (checked on the whole config)
Family = Literal["hist_gradient_boosting", "logistic_regression", "random_forest", "ridge", "linear_regression"]


class Search(Frozen):
    """Hyper-parameter search with time-ordered CV (sklearn's TimeSeriesSplit)."""

    grid: dict[str, tuple[Any, ...]]
    folds: int = Field(default=3, ge=2)
    n_iter: int | None = Field(default=None, ge=1, description="random search size; None = full grid")


class Candidate(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    family: Family
    params: dict[str, Any] = Field(default_factory=dict)
    search: Search | None = None


class Training(Frozen):
    seed: int = 42
    # binary/multiclass: prior (majority with class priors), stratified; regression: mean, median,
    # last_value, seasonal_naive (those two read data.time_column). Default: the task's first
    baseline: Literal["prior", "stratified", "mean", "median", "last_value", "seasonal_naive"] = "prior"
    candidates: tuple[Candidate, ...] = Field(min_length=1)
    # Cap on training rows (most recent kept): bounds cost on large sources
    max_train_rows: int | None = Field(default=None, ge=100)
    task_runner: CandidateRunner = CandidateRunner()

    @model_validator(mode="after")
    def _unique_names(self) -> Training:
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique: {names}")
        return self


# --- evaluation and gates ---------------------------------------------------------------

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
    resamples: int = Field(default=300, ge=50)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 7


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

    The served label is then the class of least expected cost under the predicted probabilities.
    """

    matrix: dict[str, dict[str, float]]
    unit: str = "cost units"

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


class MinEvidence(Frozen):
    """The least evidence a verdict needs; below it the gate is inconclusive and the champion stays."""

    holdout_rows: int = Field(default=500, ge=1)
    rows_per_class: int = Field(default=20, ge=1, description="rows of each class (classification)")
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
    # minus champion, on rows the champion never trained on) must be above -this margin
    max_regression_vs_champion: float | None = Field(default=0.01, ge=0)
    # more metrics judged the same way against the champion, each with its own margin
    champion_margins: dict[Metric, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    # a retrain asked for by a performance drop must beat the champion with confidence: the lower
    # bound of the improvement above this (None: judged like any other retrain)
    min_improvement_after_decay: float | None = Field(default=0.0, ge=0)
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


class Tracking(Frozen):
    experiment: str
    registered_model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --- serving and the prediction store -------------------------------------------------------


class ParquetStore(Frozen):
    """Predictions as Parquet partitioned by date; a window's partition is replaced atomically
    (so two models never share a store: each has its own folder by default)."""

    kind: Literal["parquet"] = "parquet"
    path: str | None = None


class SqlStore(Frozen):
    kind: Literal["sql"]
    url: str
    table: str | None = None


class Canary(Frozen):
    """A sticky share of traffic (by id hash) to the challenger, ramped in steps."""

    ramp: tuple[float, ...] = (0.05, 0.25, 0.5)
    step_requests: int = Field(default=500, ge=1, description="requests per step before moving up the ramp")
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    max_p99_ms: float = Field(default=100.0, gt=0)


class Serving(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    alias: str = Alias.CHAMPION
    reload_interval_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    # records one request may carry ({"records": [...]}); `max_batch_rows`, its first name, is still read
    max_request_rows: int = Field(
        default=1000, ge=1, validation_alias=AliasChoices("max_request_rows", "max_batch_rows")
    )
    # Concurrent requests are coalesced into one predict call of at most batch_max_rows, within this wait
    batch_wait_ms: float = Field(default=2.0, ge=0)
    batch_max_rows: int = Field(default=512, ge=1)
    mode: ReleaseMode = ReleaseMode.CHAMPION
    canary: Canary = Canary()


class Release(Frozen):
    """How a shadow or canary release is decided on delayed labels (core/release.py)."""

    decide: Literal["manual", "auto"] = Field(
        default="manual",
        description="auto: the monitoring flow promotes a challenger better on outcomes (through the gate), "
        "pulls one worse, and lets a canary grow only when outcomes allow; manual: it reports and waits",
    )
    alpha: float = Field(
        default=0.05, gt=0, lt=0.5, description="chance of a wrong decision over every look at the release, together"
    )
    horizon_rows: int = Field(default=2000, ge=10, description="labelled rows at which the bounds are tightest")
    min_labelled_rows: int = Field(default=200, ge=1, description="labelled rows of each variant before any decision")
    rows_per_class: int = Field(default=20, ge=1, description="labelled rows of each class (classification)")
    margin: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="non-inferiority margin, a share of the champion's mean loss; 0: the challenger must be "
        "better with confidence to be promoted",
    )


# --- monitoring and retraining ---------------------------------------------------------------


class Retraining(Frozen):
    """When monitoring asks for a retrain: k bad windows of the last n, then a cooldown."""

    drift_share: float = Field(default=0.5, gt=0, le=1, description="share of drifted columns that counts as drift")
    performance_tolerance: float = Field(default=0.03, ge=0, description="drop below the champion's holdout figure")
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


class Monitoring(Frozen):
    window: Literal["day", "week", "month"] = "week"
    labels: Source | None = Field(default=None, description="delayed labels keyed by id; default: the data source")
    min_labelled_rows: int = Field(default=200, ge=1)
    report_sample_rows: int = Field(default=5000, ge=100, description="rows in the Evidently HTML report")
    service_url: str | None = Field(
        default=None, description="the running service, e.g. http://127.0.0.1:8000: its /metrics is read"
    )
    # a feature whose permutation importance fell by more than this share since the champion was trained
    max_importance_drop: float = Field(default=0.5, gt=0, le=1)
    retraining: Retraining = Retraining()


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

    @model_validator(mode="after")
    def _columns_known(self) -> Config:
        known = set(self.data.features.columns) | {self.data.target.column, self.data.time_column}
        unknown_slices = [s for s in self.evaluation.slices if s not in known]
        if unknown_slices:
            raise ValueError(f"evaluation.slices names columns that are not features: {unknown_slices}")
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

    def with_split(self, train_end: dt.date | None = None, holdout_end: dt.date | None = None) -> Config:
        """The same config with the time split moved (schedules and retrains pass a window).

        A hash split has no window: it is returned unchanged.
        """
        if not isinstance(self.split, TimeSplit) or not (train_end or holdout_end):
            return self
        split = self.split.model_dump()
        split.update({k: v for k, v in {"train_end": train_end, "holdout_end": holdout_end}.items() if v})
        try:
            return self.model_copy(update={"split": TimeSplit(**split)})
        except ValidationError as exc:
            raise ConfigError(f"split override is invalid: {_describe(exc)}") from exc


# --- loading ----------------------------------------------------------------------------


def _mask_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_urls(v) for v in value]
    return mask_secrets(value) if isinstance(value, str) else value


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, path: str = "") -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string; a missing variable is an error."""
    if isinstance(value, dict):
        return {k: expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable ${{{name}}} is not set")

    return _ENV_REF.sub(substitute, value)


def _describe(exc: ValidationError) -> str:
    """One line per mistake. An unknown key says which known key it is closest to (a required key
    missing beside it first: that is the typo's intent), and the 'field required' the typo caused
    at the same place is not repeated."""
    errors = exc.errors()
    missing: dict[tuple[Any, ...], list[str]] = {}
    for e in errors:
        if e["type"] == "missing":
            missing.setdefault(tuple(e["loc"][:-1]), []).append(str(e["loc"][-1]))
    unknown = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    parts = []
    for err in errors:
        parent = tuple(err["loc"][:-1])
        if err["type"] == "missing" and parent in unknown:
            continue  # `target_colum: x` makes `target` missing too: the unknown key says it all
        shown, keys = _walk(tuple(err["loc"]))
        where = ".".join(shown) or "<root>"
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            hint = _did_you_mean(key, missing.get(parent, [])) or _did_you_mean(key, keys)
            parts.append(f"unknown key `{where}`{hint}")
        else:  # a model's own rule reads as its sentence, without pydantic's "Value error, "
            message = err["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if shown else message)
    return "; ".join(parts)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f", did you mean `{close[0]}`?" if close else ""


def _walk(loc: tuple[Any, ...]) -> tuple[list[str], set[str]]:
    """(the key path as a user wrote it, the keys valid beside its last part).

    Union tags that pydantic adds to a location (``split.time...``) are not keys: they are left out.
    """
    models: list[type[BaseModel]] = [Config]
    shown: list[str] = []
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(part, int):
            shown.append(str(part))
            continue
        owners = [m for m in models if part in m.model_fields]
        if not owners and not last:
            continue  # a tag
        shown.append(str(part))
        if not last:
            models = [inner for m in owners for inner in _models_in(m.model_fields[part].annotation)] or models
    return shown, {name for m in models for name in m.model_fields}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def parse_config(raw: Any, source: str = "<config>") -> Config:
    """Validate an already-loaded mapping; errors name the source and each key path."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        return Config.model_validate(expand_env(raw))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def load_config(path: str | Path) -> Config:
    """Read a YAML config file into a frozen Config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw, str(path))
