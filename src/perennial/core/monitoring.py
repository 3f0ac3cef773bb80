"""One monitoring window: its labelled rows, its performance and its verdict (pure); its bounds: core/windows.py.

The monitoring flow reads the window's predictions (the rows the model scored, features included)
from the prediction store, the delayed labels from their source, and the champion's reference
statistics from MLflow; everything it decides is decided here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core import task_metrics as tm
from perennial.core.calibration import Calibration, window_calibration
from perennial.core.data import row_keys
from perennial.core.drift import DriftReport, ReferenceStats
from perennial.core.episode_records import Episode, Level
from perennial.core.estimate import Estimate
from perennial.core.events import (
    DataInvalid,
    DriftDetected,
    DriftPersistent,
    PerennialEvent,
    PerformanceDegraded,
    PerformancePersistent,
)
from perennial.core.label_free import LabelFreeReference
from perennial.core.metrics import estimate_metrics, higher_is_better
from perennial.core.names import PROBA_PREFIX
from perennial.core.retraining import RetrainDecision, WindowVerdict
from perennial.core.scoring import stored_probabilities
from perennial.core.target import Labels, check_label_columns, class_names
from perennial.core.validation import SuiteSpec
from perennial.core.windows import Window
from perennial.errors import DataSourceError

PREDICTION = "prediction"  # the score column, drift-tested beside the features
MONITORED_SOURCES = ("batch", "service")  # shadow rows are the challenger's, never the champion's


@dataclass(frozen=True, slots=True)
class ChampionContext:
    """What monitoring judges a window against: the champion and what its training run recorded."""

    version: str
    training_run: str
    stats: ReferenceStats  # drift reference: the training features' and scores' statistics
    sample: pd.DataFrame  # a sample of the training rows, for Evidently's page
    holdout: Estimate | None  # the champion's gated primary metric on its holdout, with its interval
    suite: SuiteSpec  # the data contract it was trained under
    labels: Labels | None = None  # binary: what its 1 and 0 stand for (delayed labels arrive in that text)
    # fitted on its holdout (regression: loss estimator; multiclass: calibration); None before it was recorded
    label_free: LabelFreeReference | None = None
    label_free_note: str | None = None  # why there is no label-free estimator, when there is none
    trained_from: dt.date | None = None  # its training window's first day, when cut (split.train_start)


def latest_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per id: the last scoring of it (a re-scored window or a service retry counts once)."""
    if predictions.empty:
        return predictions
    ordered = predictions.sort_values("scored_at", kind="stable")
    return ordered.drop_duplicates("id", keep="last").reset_index(drop=True)


def drift_frame(predictions: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The columns drift is tested on: the raw numeric and categorical features, and the score."""
    features = config.data.features
    wanted = [*features.numeric, *features.categorical]
    missing = [c for c in wanted if c not in predictions.columns]
    if missing:
        raise DataSourceError(f"prediction store rows lack feature columns {missing}: re-score the window")
    return predictions.loc[:, [*wanted, PREDICTION]]


def join_labels(
    predictions: pd.DataFrame, labels: pd.DataFrame, config: Config, where: str, encoding: Labels | None = None
) -> pd.DataFrame:
    """Predictions with their delayed label (inner join on id): id, prediction, label (0/1).

    Labels come in the user's text and are coded with the champion's ``encoding``. Without an id
    column a label finds its prediction by the row's content key: labels must come in the same
    rows (the same feature values) that were scored.
    """
    check_label_columns(labels.columns, config, where)
    known = known_labels(labels, config, where, encoding).drop_duplicates("id", keep="last")
    joined = predictions.loc[:, scored_columns(predictions.columns)].merge(known, on="id", how="inner")
    return joined


def known_labels(labels: pd.DataFrame, config: Config, where: str, encoding: Labels | None = None) -> pd.DataFrame:
    """The rows of ``labels`` that carry one, as id and label (binary: coded 0/1 with ``encoding``), in
    their order; a repeated id is left for the caller (the last one counts)."""
    target = config.data.target.column
    known = labels.loc[labels[target].notna()]
    codes = (
        (encoding or Labels(target, 1, 0)).encode(known[target], where) if config.task == "binary" else known[target]
    )
    return pd.DataFrame({"id": row_keys(known, config).to_numpy(), "label": codes.to_numpy()}, index=known.index)


def scored_columns(columns: Iterable[str]) -> list[str]:
    """What performance reads of a prediction row: its id, its score and (multiclass) every
    class's probability (proba__<class>)."""
    return ["id", PREDICTION, *(c for c in columns if c.startswith(PROBA_PREFIX))]


@dataclass(frozen=True, slots=True)
class ArrivedLabels:
    """The label source as read once for a window (the data source unless monitoring.labels names one)."""

    frame: pd.DataFrame
    where: str  # the source, as errors name it

    def join(self, predictions: pd.DataFrame, config: Config, encoding: Labels | None = None) -> pd.DataFrame:
        """``predictions`` with the labels that have arrived for them: id, prediction, label."""
        if predictions.empty or unlabelled(self.frame.columns, config):
            return no_joined_labels()
        return join_labels(predictions, self.frame, config, self.where, encoding)


def unlabelled(columns: Iterable[str], config: Config) -> bool:
    """New rows without the target column (``monitor --data`` on rows whose labels have not come):
    no label has arrived, which is not an error. A named label source (``monitoring.labels``)
    without it still is: that file exists to hold them."""
    return config.monitoring.labels is None and config.data.target.column not in set(columns)


def no_joined_labels() -> pd.DataFrame:
    """What a join that found no label gives: its columns, no rows."""
    return pd.DataFrame({"id": pd.Series(dtype=str), PREDICTION: pd.Series(dtype=float), "label": []})


@dataclass(frozen=True, slots=True)
class Performance:
    metric: str
    value: float
    low: float
    high: float
    rows: int
    reference: float | None  # the champion's figure it is judged against (core/yardstick.py)
    drop: float | None  # reference minus value, signed so that positive is worse
    # the end of the champion's holdout interval nearer a worse window (its low end for a score, its
    # high end for a loss); None: the training run kept no interval, the figure is taken as exact
    reference_bound: float | None = None
    yardstick: str = "holdout"  # what ``reference`` is: the champion's holdout figure, or its live level
    calibration: Calibration | None = None  # binary: the labelled positive rate beside the mean score

    @property
    def sure_drop(self) -> float | None:
        """The least drop the two intervals allow: above 0 only when even the window's best end is worse
        than the worst end of the champion's holdout figure. Both are estimates: a holdout of a few hundred
        rows that came out lucky would otherwise read every later window of unchanged data as a drop."""
        if self.reference is None:
            return None
        bound = self.reference if self.reference_bound is None else self.reference_bound
        return bound - self.high if higher_is_better(self.metric) else self.low - bound

    def beyond(self, tolerance: float) -> bool:
        """The window's figure dropped beyond ``tolerance`` (sure of it or not: ``sure_drop`` weighs that)."""
        return self.drop is not None and self.drop > tolerance

    @property
    def spread(self) -> float:
        """How far the window's interval reaches from its figure towards a better one: the side ``sure_drop`` weighs."""
        return Estimate(self.value, self.low, self.high).reach(higher_is_better(self.metric))

    @property
    def level(self) -> Level | None:
        """The window's figure as a drift episode weighs it (None: no champion figure to weigh it by)."""
        if self.reference is None:
            return None
        return Level(self.value, self.reference, higher_is_better(self.metric), self.sure_drop)


def label_shortfall(joined: pd.DataFrame, config: Config) -> str | None:
    """Why the labelled rows cannot be judged, with the counts ("too few labels (30 < 200)"); None when they can.

    "no labels" means none at all: a window with some labels says how many, so that a small window
    is not mistaken for a broken label feed.
    """
    rows, minimum = len(joined), config.monitoring.min_labelled_rows
    if rows == 0:
        return "no labels"
    if rows < minimum:
        return f"too few labels ({rows} < {minimum})"
    if config.task == "binary" and joined["label"].nunique() < 2:  # AUC is undefined; MAE or F1 are not
        return f"one class only in {rows} labelled rows"
    return None


def window_performance(
    joined: pd.DataFrame, config: Config, reference: Estimate | None, yardstick: str = "holdout"
) -> Performance | None:
    """The primary metric on the labelled rows with a bootstrap interval, against the champion's figure and
    its interval (``reference``: its ``yardstick``, core/yardstick.py); None when ``label_shortfall`` says why."""
    name = config.evaluation.primary_metric
    estimates = window_estimates(joined, config, [name])
    if estimates is None:
        return None
    estimate = estimates[name]
    calibration = (
        window_calibration(joined["label"].to_numpy(float), joined[PREDICTION].to_numpy(float))
        if config.task == "binary"
        else None
    )
    if reference is None or math.isnan(reference.value):
        return Performance(
            name, estimate.value, estimate.low, estimate.high, len(joined), None, None, calibration=calibration
        )
    higher = higher_is_better(name)
    drop = reference.value - estimate.value if higher else estimate.value - reference.value
    bound = reference.low if higher else reference.high
    return Performance(
        name,
        estimate.value,
        estimate.low,
        estimate.high,
        len(joined),
        reference.value,
        drop,
        None if math.isnan(bound) else bound,
        yardstick,
        calibration,
    )


def window_estimates(joined: pd.DataFrame, config: Config, names: Sequence[str]) -> dict[str, Estimate] | None:
    """``names`` on the labelled rows, each with its bootstrap interval (one resampling for all);
    None when ``label_shortfall`` says there are too few labels."""
    if label_shortfall(joined, config) is not None:
        return None
    evaluation = config.evaluation
    if config.task == "binary":
        return estimate_metrics(
            joined["label"], joined[PREDICTION], list(names), evaluation.bootstrap, evaluation.threshold
        )
    return tm.estimate(task_rows(joined, config), list(names), evaluation.bootstrap)


def task_rows(joined: pd.DataFrame, config: Config) -> tm.Rows:
    """The labelled rows as the task's metrics read them (regression values, or multiclass probabilities)."""
    if config.task == "regression":
        return tm.RegressionRows(pd.to_numeric(joined["label"]), joined[PREDICTION], config.evaluation.quantile)
    proba, classes = stored_probabilities(joined)
    if not classes:
        raise DataSourceError(
            "multiclass predictions lack their class probabilities (proba__<class>): re-score the window"
        )
    labels = class_names(joined["label"])
    # a class the model never learnt is one it can only miss: its rows count, at probability 0
    # (dropped, 40 'urgent' tickets among 1,050 left macro F1 at 0.46 instead of 0.34, said nowhere)
    new = sorted(set(labels.dropna()) - set(classes))
    if new:
        proba = np.hstack([proba, np.zeros((len(proba), len(new)))])
    return tm.MulticlassRows(labels, proba, [*classes, *new], config.evaluation.top_k)


@dataclass(frozen=True, slots=True)
class WindowResult:
    """What one window showed, and what the policy made of it: a row of the loop's table."""

    dataset: str
    window: str
    rows: int
    data_valid: bool
    drift_share: float | None
    drifted_columns: tuple[str, ...]
    prediction_drift: bool | None
    performance: Performance | None
    decision: RetrainDecision
    champion_version: str | None
    label_note: str | None = None  # why performance is None: "no labels", "too few labels (30 < 200)"
    episode: Episode | None = None  # the drift episode after this window (closed ones carry their end)
    alert: bool = False  # the episode's shift persists after a retrain that did not help: ask a person
    estimated_drop: float | None = None  # the label-free estimate's expected drop (CBPE, DLE), when there is one

    def performance_line(self) -> str:
        """The window's performance in one line, or why there is none."""
        p = self.performance
        if p is None:
            return self.label_note or ("not measured: invalid data" if not self.data_valid else "not measured")
        line = f"{p.metric} {p.value:.4f} [{p.low:.4f}, {p.high:.4f}] on {p.rows:,} labelled rows"
        if p.reference is not None and p.drop is not None:
            line += f", champion's {p.yardstick} {p.reference:.4f} (drop {p.drop:+.4f})"
        note = self.calibration_note()
        return f"{line}; {note}" if note else line

    def calibration_note(self) -> str | None:
        """A binary window's scores that no longer match its positive rate, in one clause; None when they do."""
        p = self.performance
        if p is None or p.calibration is None:
            return None
        return p.calibration.note(ranking_held=p.sure_drop is None or p.sure_drop <= 0)

    def verdict(self) -> WindowVerdict:
        p = self.performance
        unlabelled = WindowVerdict(
            self.window,
            self.drift_share or 0.0,
            None,
            self.data_valid,
            self.estimated_drop,
            drift_judged=self.drift_share is not None,
        )
        if p is None:
            return unlabelled
        return replace(
            unlabelled,
            performance_drop=p.drop,
            performance_sure_drop=p.sure_drop,
            champion=self.champion_version,
            performance_spread=p.spread,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["drifted_columns"] = list(self.drifted_columns)
        return out


def drift_unjudged(rows: int, minimum: int) -> str | None:
    """Why a window's drift does not count towards a decision (too few rows); None when it does."""
    return f"drift not judged: {rows:,} rows < {minimum:,} (monitoring.min_drift_rows)" if rows < minimum else None


def split_drift(report: DriftReport) -> tuple[float, tuple[str, ...], bool | None]:
    """(feature drift share, drifted features, prediction drifted) from one report over features + score."""
    features = [c for c in report.columns if c.column != PREDICTION]
    drifted = tuple(c.column for c in features if c.drifted)
    share = len(drifted) / len(features) if features else 0.0
    score = next((c for c in report.columns if c.column == PREDICTION), None)
    return share, drifted, None if score is None else score.drifted


def event_for(
    result: WindowResult, window: Window, tolerance: float, invalid_summary: str = ""
) -> PerennialEvent | None:
    """The event a window calls for: its data is invalid, the policy decided a retrain, or a drift
    episode persists after its retrain; else none.

    A retrain trains up to the window's start and holds the window itself out: its labels are in. A
    retry on the newer windows (the decision's ``train_start``) learns from its episode's first window.
    """
    if not result.data_valid:
        return DataInvalid(dataset=result.dataset, window=result.window, summary=invalid_summary or "validation failed")
    decision = result.decision
    if result.alert and result.episode is not None:
        e = result.episode
        persistent = PerformancePersistent if e.trigger == "performance" else DriftPersistent
        return persistent(
            dataset=result.dataset,
            window=result.window,
            episode_start=e.start,
            windows=e.windows,
            retrains=e.retrains,
            outcome=e.outcome,
            version=e.version,
            summary=decision.why,
        )
    if not decision.retrain:
        return None
    bounds = {"train_end": window.start.isoformat(), "holdout_end": window.end.isoformat()}
    p = result.performance
    if decision.reason == "performance" and p is not None and p.reference is not None:
        return PerformanceDegraded(
            dataset=result.dataset,
            window=result.window,
            metric=p.metric,
            value=p.value,
            low=p.low,
            high=p.high,
            reference=p.reference,
            tolerance=tolerance,
            train_start=decision.train_start,
            **bounds,
        )
    return DriftDetected(
        dataset=result.dataset,
        window=result.window,
        drift_share=result.drift_share or 0.0,
        drifted_columns=result.drifted_columns,
        prediction_drift=bool(result.prediction_drift),
        train_start=decision.train_start,
        **bounds,
    )
