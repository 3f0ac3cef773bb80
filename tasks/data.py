"""Load the configured source, cut a time window from it (when rows have a time), encode the label, split."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config, TimeSplit
from perennial.core.column_types import degenerate
from perennial.core.data import check_classes_learnable, check_finite, labelled, parse_times, split_frame
from perennial.core.holdout import reach_back
from perennial.core.names import Tag
from perennial.core.refused_windows import leave_out_refused
from perennial.core.target import Labels, resolve_labels
from perennial.errors import DataSourceError
from perennial.io import sources, tracking
from perennial.io.monitor_store import MonitorStore
from tasks.common import IO_RETRIES, publish_markdown


@task(name="load-data", cache_policy=NO_CACHE, **IO_RETRIES)
def load_data_task(
    config: Config, root: Path, start: dt.date | None = None, end: dt.date | None = None, *, new_rows: bool = False
) -> tuple[pd.DataFrame, str]:
    """Rows with start <= time < end (default: the training window through the holdout), UTC, time-ordered.

    Without a time column every row is read, in the source's order. ``new_rows``: a file of new
    rows, whose bounds default to none (the config's window is its training data's).
    """
    name = sources.describe_source(config.data.source, root)
    frame = sources.read_source(config.data.source, root)
    time_column = config.data.time_column
    if time_column is None:
        frame.index = pd.RangeIndex(len(frame))
        return frame, name
    times = parse_times(frame, time_column, name)
    untimed = int(times.isna().sum())
    if untimed:  # no window holds them: said, not dropped in silence (40% of a table once vanished so)
        get_run_logger().warning(
            f"{name}: {untimed:,} of {len(frame):,} rows ({untimed / len(frame):.1%}) have no '{time_column}' "
            "and fall in no window: left out of training, scoring and monitoring"
        )
    split = None if new_rows else config.split
    start = start or getattr(split, "train_start", None)
    end = end or getattr(split, "holdout_end", None)
    in_window = pd.Series(True, index=frame.index)
    if end is not None:
        in_window &= times < pd.Timestamp(end, tz="UTC")
    if start is not None:
        in_window &= times >= pd.Timestamp(start, tz="UTC")
    # the frame is ours (just read): set the column in place and copy the rows once, not three
    # times (assign, sort, reset_index each copy every column: ~1 s of a 1M-row window)
    frame[time_column] = times
    window = frame.loc[in_window]
    if not window[time_column].is_monotonic_increasing:
        window = window.sort_values(time_column, kind="stable")
    window.index = pd.RangeIndex(len(window))
    return window, name


@task(name="data-span", cache_policy=NO_CACHE, **IO_RETRIES)
def data_span_task(config: Config, root: Path) -> tuple[dt.date, dt.date]:
    """The first and last day the source's rows cover (a time column is required)."""
    assert config.data.time_column is not None
    name = sources.describe_source(config.data.source, root)
    times = parse_times(sources.read_source(config.data.source, root), config.data.time_column, name)
    return times.min().date(), times.max().date()


@task(name="encode-target", cache_policy=NO_CACHE)
def encode_target_task(frame: pd.DataFrame, config: Config, source: str) -> tuple[pd.DataFrame, Labels | None]:
    """Binary: the target as 0/1 codes (the model's view) and the two labels they stand for (the user's view).

    Other tasks keep the target as it is (None: no labels to travel).
    """
    target = config.data.target
    if target.column not in frame.columns:
        raise DataSourceError(f"{source}: target column '{target.column}' is missing")
    if config.task != "binary":
        return frame, None
    labels = resolve_labels(frame[target.column], target, source)
    frame[target.column] = labels.encode(frame[target.column], source)
    return frame, labels


@task(name="usable-features", cache_policy=NO_CACHE)
def usable_features_task(train: pd.DataFrame, config: Config, run_id: str) -> Config:
    """The config less the features that are all null or constant in training: a warning, not a crash."""
    dropped = {c: why for c in config.data.features.columns if c in train.columns and (why := degenerate(train[c]))}
    if not dropped:
        return config
    if len(dropped) == len(config.data.features.columns):
        raise DataSourceError(f"every feature is all-null or constant in the training rows: {dropped}")
    text = "; ".join(f"{c}: {why}" for c, why in dropped.items())
    get_run_logger().warning(f"features left out of this model (nothing to learn from them): {text}")
    tracking.set_tags(run_id, {Tag.DROPPED_FEATURES: ",".join(dropped)})
    tracking.log_json(run_id, dropped, "features/dropped.json")
    publish_markdown(
        f"{config.name}-dropped-features",
        "\n".join(f"- `{c}`: {w}" for c, w in dropped.items()),
        "Features left out: all null or constant in training",
    )
    data = config.data.model_copy(update={"features": config.data.features.without(dropped)})
    return config.model_copy(update={"data": data})


@task(name="split", cache_policy=NO_CACHE)
def split_task(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows, among those with a target (the others are said, then left out)."""
    frame, unlabelled = labelled(frame, config)
    if unlabelled:
        get_run_logger().warning(
            f"{unlabelled:,} rows have no '{config.data.target.column}': left out of training and evaluation"
        )
    check_finite(frame, config.data.features.numeric, "the training window")
    train, holdout = split_frame(frame, config)
    check_classes_learnable(train, holdout, config)
    return train, holdout


@task(name="leave-out-refused-windows", cache_policy=NO_CACHE, **IO_RETRIES)
def leave_out_refused_task(frame: pd.DataFrame, config: Config, ledger_url: str, run_id: str) -> pd.DataFrame:
    """The rows outside every window monitoring refused (core/refused_windows.py), said and recorded."""
    time_column = config.data.time_column
    if time_column is None:
        return frame  # windows are scoring batches: no dates to find their rows by
    store = MonitorStore(ledger_url)
    try:
        refused = store.refused_windows(config.name)
    finally:
        store.close()
    kept, left_out = leave_out_refused(frame, frame[time_column], refused, config.monitoring.window)
    if left_out.rows:
        get_run_logger().warning(left_out.note(time_column))
        tracking.log_params(run_id, {"left_out_refused_windows": ",".join(left_out.windows)[:500]})
        tracking.log_metrics(run_id, {"left_out_refused_rows": float(left_out.rows)})
    return kept.reset_index(drop=True)


@task(name="reach-back-for-evidence", cache_policy=NO_CACHE)
def reach_back_task(frame: pd.DataFrame, config: Config, run_id: str | None = None) -> tuple[Config, str]:
    """The config with the holdout moved back far enough to hold the gate's minimum evidence, and why."""
    if not isinstance(config.split, TimeSplit):
        return config, ""  # a hash split's holdout is a share of rows: nothing to reach back into
    train_end, note = reach_back(frame, config)
    if not note:
        return config, ""
    if run_id is not None:
        tracking.log_params(run_id, {"holdout_reached_back_to": train_end.isoformat()})
    return config.with_split(train_end, config.split.holdout_end), note
