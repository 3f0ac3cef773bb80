"""Monitoring over Dask partitions (``data.engine.kind: dask``): the window is never in one frame.

The same steps as ``tasks.monitoring``'s, with the same reports and recording:

- validation: the source's window opened lazily, the contract checked from per-partition aggregates;
- drift: the prediction store's part files of the window opened lazily (``io.window_parts``), each id's
  last scoring kept (``core.monitoring_partitioned``), per-partition sketches merged;
- delayed labels: a Dask merge on id of the narrow columns only (id, scores, label); only the joined
  rows come into memory, for the performance metrics: labelled rows are at most one per window row and,
  labels arriving late, usually far fewer;
- steps that need a pandas frame, decided per step: the label-free estimate holds the few columns it
  reads of every row (binary, the score; multiclass, the class probabilities; regression, the loss
  estimator's inputs); feature decay holds the features of the seeded sample of labelled rows that
  permutation importance shuffles anyway (at most ``evaluation.importance.max_rows``); skew reads the
  service's rows only, as in memory (served traffic, not the batch window); Evidently's page, a seeded
  sample of about ``monitoring.report_sample_rows`` rows, recorded as a sample in
  ``drift/summary.json``. Each result equals the in-memory path's; the page's sample is drawn
  differently (it is for reading: the verdicts are the engine's).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.drift import DriftReport
from perennial.core.drift.partitioned import detect_drift_partitioned
from perennial.core.drift_baseline import (
    DriftBaseline,
    reference_span,
    stored_baseline,
    thin_span,
    training_baseline,
)
from perennial.core.importance import FeatureDecay, importance_sample
from perennial.core.label_signal import signal_rows
from perennial.core.monitoring import (
    MONITORED_SOURCES,
    ChampionContext,
    drift_frame,
    known_labels,
    no_joined_labels,
    scored_columns,
    unlabelled,
)
from perennial.core.monitoring_partitioned import (
    LABEL_POSITION,
    POSITION,
    in_join_order,
    in_read_order,
    last_labels,
    summarise_predictions,
    superseded,
    without_positions,
)
from perennial.core.target import Labels, check_label_columns
from perennial.core.validation import SuiteSpec, ValidationReport
from perennial.core.validation_partitioned import validate_partitioned
from perennial.core.validation_units import Earlier
from perennial.core.windows import Window
from perennial.io import sources
from perennial.io.partitioned import dask_reduce, gather_frame, release_freed_memory
from perennial.io.prediction_store import ParquetPredictionStore, open_store
from perennial.io.registry import Registry
from perennial.io.window_parts import open_labels, open_predictions, positions_of
from tasks.common import IO_RETRIES
from tasks.monitoring import no_predictions, record_drift
from tasks.monitoring_insights import importance_at_training, measure_decay
from tasks.monitoring_validation import record_window_validation, window_rules

if TYPE_CHECKING:
    import dask.dataframe as dd

JOIN_PART_ROWS = 250_000  # window rows a partition of the label join's output, at most (each is held whole)


@dataclass(frozen=True, slots=True, eq=False)
class LazyPredictions:
    """The window's prediction rows as a lazy frame, the earlier scorings of an id to leave out, and how
    many rows count (one per id, its last scoring)."""

    frame: dd.DataFrame  # every stored row of the window, with its POSITION
    dropped: np.ndarray  # the POSITION of each earlier scoring
    rows: int

    def select(self, columns: Sequence[str]) -> dd.DataFrame:
        """``columns`` (and POSITION) of the rows that count: the part files are read for these alone."""
        chosen: dd.DataFrame = self.frame[list(dict.fromkeys([*columns, POSITION]))]
        if not self.dropped.size:
            return chosen
        kept: dd.DataFrame = chosen.map_partitions(without_positions, self.dropped, meta=chosen._meta)  # type: ignore[no-untyped-call]
        return kept


@task(name="check-window-partitions", cache_policy=NO_CACHE)
def check_window_partitions_task(
    lazy: dd.DataFrame,
    suite: SuiteSpec,
    config: Config,
    source: str,
    window: Window,
    run_id: str,
    scheduler: Any,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """``check_window_task`` over partitions: the same report, recorded alike, not raised."""
    reduce = dask_reduce(lazy, scheduler)
    report = validate_partitioned(reduce, suite, source=source, earlier=earlier, **window_rules(config, window))
    return record_window_validation(report, config, source, window, run_id)


@task(name="open-window-predictions", cache_policy=NO_CACHE, **IO_RETRIES)
def window_partitions_task(config: Config, root: Path, window: Window, scheduler: Any) -> LazyPredictions:
    """``window_predictions_task`` over partitions: one pass counts the rows and their ids, one more
    (only when an id repeats) finds the earlier scorings to leave out."""
    predictions = lazy_predictions(config, root, window.start, window.end, scheduler)
    if predictions is None:
        raise no_predictions(config, window)
    return predictions


def lazy_predictions(
    config: Config, root: Path, start: dt.date, end: dt.date, scheduler: Any
) -> LazyPredictions | None:
    """The monitored rows stored with event dates in [start, end), lazily; None when there are none."""
    store = open_store(config, root)
    assert isinstance(store, ParquetPredictionStore)  # config: the dask engine writes Parquet
    lazy = open_predictions(store, MONITORED_SOURCES, start, end)
    if lazy is None:
        return None
    reduce = dask_reduce(lazy, scheduler)
    parts = reduce(summarise_predictions, lambda a, b: a.merge(b), ["id"])
    if not parts.rows:
        return None
    dropped = superseded(reduce, parts)
    return LazyPredictions(lazy, dropped, parts.rows - int(dropped.size))


@task(name="choose-drift-reference-partitions", cache_policy=NO_CACHE, **IO_RETRIES)
def drift_baseline_partitions_task(
    config: Config, root: Path, window: Window, context: ChampionContext, scheduler: Any
) -> DriftBaseline:
    """``drift_baseline_task`` over partitions: a stored span's rows come into memory as a seeded
    sample of at most ``monitoring.reference.max_rows``, the reference columns only."""
    spec = config.monitoring.reference
    if spec.kind == "training":
        return training_baseline(context)
    span = reference_span(spec, config.monitoring.window, window)
    stored = lazy_predictions(config, root, span.start, span.end, scheduler)
    thin = thin_span(span, stored.rows if stored else 0, spec)
    if stored is None or thin:
        return training_baseline(context, thin)
    frame = stored.select([c for c in [*context.stats.columns, "model_version"] if c in stored.frame.columns])
    rows = gather_frame(_about(frame, spec.max_rows, stored.rows, config.training.seed), scheduler)
    return stored_baseline(rows, span, spec, context, config.monitoring.report_sample_rows, config.training.seed)


@task(name="detect-drift-partitions", cache_policy=NO_CACHE)
def drift_partitions_task(
    predictions: LazyPredictions, baseline: DriftBaseline, config: Config, window: Window, run_id: str, scheduler: Any
) -> DriftReport:
    """``drift_task`` over partitions: merged sketches; Evidently's page on a seeded sample of about
    ``report_sample_rows`` rows drawn across partitions (the whole window when it is smaller)."""
    columns = list(drift_frame(predictions.frame._meta, config).columns)  # the in-memory path's check
    frame = predictions.select(columns)[columns]
    share = config.monitoring.retraining.drift_share
    report = detect_drift_partitioned(baseline.stats, dask_reduce(frame, scheduler), share)
    sample = _about(frame, config.monitoring.report_sample_rows, predictions.rows, config.training.seed)
    return record_drift(report, sample.compute(scheduler=scheduler), baseline, config, window, run_id)  # type: ignore[no-untyped-call]


def _about(frame: dd.DataFrame, most: int, rows: int, seed: int) -> dd.DataFrame:
    """A seeded sample of about ``most`` of the frame's ``rows`` rows (all of them when there are fewer)."""
    if rows <= most:
        return frame
    sampled: dd.DataFrame = frame.sample(frac=most / rows, random_state=seed)  # type: ignore[no-untyped-call]
    return sampled


@task(name="read-label-free-columns", cache_policy=NO_CACHE)
def label_free_rows_task(predictions: LazyPredictions, columns: list[str], scheduler: Any) -> pd.DataFrame:
    """The window's rows, only ``columns`` of them, in the in-memory path's order."""
    return in_read_order(gather_frame(predictions.select(["scored_at", *columns]), scheduler)).loc[:, columns]


@task(name="join-labels-partitions", cache_policy=NO_CACHE, **IO_RETRIES)
def join_partitions_task(
    predictions: LazyPredictions, config: Config, root: Path, encoding: Labels | None, scheduler: Any
) -> pd.DataFrame:
    """``ArrivedLabels.join`` over partitions: the window's scores merged on id with the labels that
    arrived, as a Dask merge of the narrow columns (id, scores, label); only the joined rows are
    computed, and labelled rows are far fewer than the window's when labels arrive late."""
    source = config.monitoring.labels or config.data.source
    where = sources.describe_source(source, root)
    labels = open_labels(source, root)
    if unlabelled(labels.columns, config):  # new rows whose labels have not come: none arrived
        return no_joined_labels()
    check_label_columns(list(labels.columns), config, where)
    assert config.data.id_column is not None  # config: the dask engine keys rows by id
    narrow = labels[[config.data.id_column, config.data.target.column]]
    meta = _known(narrow._meta, config, where, encoding)
    known = narrow.map_partitions(_known, config, where, encoding, meta=meta)
    scores = predictions.select(["scored_at", *scored_columns(predictions.frame.columns)])
    # as many output partitions as the label source has, or one a JOIN_PART_ROWS of the window's rows: not
    # one a stored day (a 1M-row window's 192 days took 8.2 s to shuffle, in 10 partitions 4.8 s)
    parts = max(known.npartitions, math.ceil(predictions.rows / JOIN_PART_ROWS))
    merged = scores.merge(known, on="id", how="inner", npartitions=parts)  # type: ignore[no-untyped-call]
    meta = _compact(merged._meta.drop(columns=LABEL_POSITION))
    last = merged.map_partitions(lambda part: _compact(last_labels(part)), meta=meta)
    # the joined rows alone come into memory: at most one per window row, usually far fewer (labels lag)
    joined = in_join_order(gather_frame(last, scheduler))
    release_freed_memory()  # the gathered rows, now ordered and freed
    return joined


def _compact(rows: pd.DataFrame) -> pd.DataFrame:
    """Text ids as Arrow strings: as Python objects, 20M joined ids took 1.3 GB of the step's memory
    (the same values: the joined rows' content hash is unchanged)."""
    return rows.astype({"id": "string[pyarrow]"}) if rows["id"].dtype == object else rows


def _known(
    frame: pd.DataFrame, config: Config, where: str, encoding: Labels | None, partition_info: Any = None
) -> pd.DataFrame:
    # positions before the rows without a label are left out: they keep the source's order
    positioned = positions_of(frame, LABEL_POSITION, partition_info)
    return known_labels(positioned, config, where, encoding).assign(**{LABEL_POSITION: positioned[LABEL_POSITION]})


@task(name="feature-decay-partitions", cache_policy=NO_CACHE, **IO_RETRIES)
def decay_partitions_task(
    config: Config,
    registry: Registry,
    predictions: LazyPredictions,
    joined: pd.DataFrame,
    context: ChampionContext,
    run_id: str,
    scheduler: Any,
) -> tuple[FeatureDecay, ...] | None:
    """``decay_task`` over partitions: the labelled rows permutation importance samples (the same seeded
    positions among the labelled rows, at most ``evaluation.importance.max_rows``), fetched by id with
    their features; each partition is read and filtered to them where it is, no other row is kept."""
    stored = importance_at_training(config, joined, context)
    if stored is None:
        return None
    take = importance_sample(len(joined), config.evaluation.importance, config.training.seed)
    wanted = joined.iloc[take].loc[:, ["id", "label"]]
    if isinstance(wanted["id"].dtype, pd.StringDtype):  # _compact's: as the stored rows hold them
        wanted = wanted.astype({"id": object})
    ids = wanted["id"].to_numpy()
    frame = predictions.select(list(predictions.frame.columns))
    found = frame.map_partitions(  # type: ignore[no-untyped-call]
        lambda part: part.loc[part["id"].isin(ids)], meta=frame._meta
    )
    times = predictions.select(["event_time"])["event_time"].min()
    fetched, first_event = _compute(found, times, scheduler=scheduler)
    rows = wanted.merge(fetched.drop(columns=[POSITION]), on="id")  # the sample's order: the window's
    return measure_decay(config, registry, rows, stored, context, run_id, first_event)


@task(name="label-signal-rows-partitions", cache_policy=NO_CACHE, **IO_RETRIES)
def label_signal_rows_task(
    predictions: LazyPredictions, joined: pd.DataFrame, columns: list[str], scheduler: Any
) -> pd.DataFrame:
    """The scored rows (id and ``columns``) of the labelled rows the label-signal tests judge (all of them,
    or their seeded sample: core/label_signal.signal_rows), fetched by id; each partition is read and
    filtered where it is, no other row is kept."""
    wanted = signal_rows(joined)["id"]
    if isinstance(wanted.dtype, pd.StringDtype):  # _compact's: as the stored rows hold them
        wanted = wanted.astype(object)
    ids = wanted.to_numpy()
    present = [c for c in columns if c in predictions.frame.columns and c != "id"]
    frame = predictions.select(["id", *present])
    found = frame.map_partitions(  # type: ignore[no-untyped-call]
        lambda part: part.loc[part["id"].isin(ids)], meta=frame._meta
    )
    return gather_frame(found, scheduler).drop(columns=[POSITION])


def _compute(*collections: Any, scheduler: Any) -> tuple[Any, ...]:
    from dask.base import compute

    computed: tuple[Any, ...] = compute(*collections, scheduler=scheduler)  # type: ignore[no-untyped-call]
    return computed
