"""Batch scoring over Dask partitions (``data.engine.kind: dask``): the window is never in one frame.

The same steps as ``tasks.scoring``'s, with its recording: the source opened lazily and cut to the
window a partition at a time, the contract checked from per-partition aggregates (the in-memory
path's verdicts and words), each partition scored with the champion's pipeline and written into
the prediction store's staging folder by day, then every day staged replaces the store's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config, FileSource
from perennial.core.data import rows_in_window
from perennial.core.names import PREDICTED_CLASS
from perennial.core.scoring import score_frame
from perennial.core.validation import SuiteSpec, ValidationReport
from perennial.core.validation_partitioned import validate_partitioned
from perennial.io import sources, tracking
from perennial.io.partitioned import dask_reduce, write_days
from perennial.io.prediction_store import ParquetPredictionStore, open_store
from tasks.common import IO_RETRIES
from tasks.scoring import record_scoring, record_validation, with_run_id

if TYPE_CHECKING:
    import dask.dataframe as dd

# what a partition's write hands back: the columns the scoring summary reads (a few bytes a row)
SUMMARY_COLUMNS = ("prediction", "predicted_label", PREDICTED_CLASS)


@task(name="open-window", cache_policy=NO_CACHE, **IO_RETRIES)
def open_window_task(
    config: Config, root: Path, start: dt.date | None = None, end: dt.date | None = None, *, new_rows: bool = False
) -> tuple[dd.DataFrame, str]:
    """The rows with start <= time < end as a lazy Dask DataFrame (``load_data_task``'s window and
    default bounds, in the source's order), and the source's name; nothing but the schema is read."""
    source = config.data.source
    assert isinstance(source, FileSource)  # config: the dask engine reads files
    name = sources.describe_source(source, root)
    lazy = sources.open_lazy(source, root)
    time_column = config.data.time_column
    if time_column is None:
        return lazy, name
    split = None if new_rows else config.split
    start = start or getattr(split, "train_start", None)
    end = end or getattr(split, "holdout_end", None)
    cut = (time_column, start, end, name)
    meta = rows_in_window(lazy._meta, *cut)
    window: dd.DataFrame = lazy.map_partitions(rows_in_window, *cut, meta=meta)  # type: ignore[no-untyped-call]
    return window, name


@task(name="validate-scoring-partitions", cache_policy=NO_CACHE)
def validate_scoring_partitions_task(
    window: dd.DataFrame,
    suite: SuiteSpec,
    source: str,
    run_id: str,
    config_name: str,
    scheduler: Any,
    warnings: Collection[str] | None = None,
) -> ValidationReport:
    """``validate_scoring_input_task`` over partitions: the same report, recorded alike."""
    report = validate_partitioned(
        dask_reduce(window, scheduler), suite, source=source, require_target=False, warnings=warnings
    )
    return record_validation(report, run_id, config_name).raise_if_failed()


@task(name="score-partitions", cache_policy=NO_CACHE)
def score_partitions_task(
    model: Any,
    window: dd.DataFrame,
    config: Config,
    version: str,
    run_id: str,
    root: Path,
    scheduler: Any,
    threshold: float | None = None,
) -> tuple[int, list[dt.date]]:
    """Each partition scored and written into the store by day, then the days installed (a re-run
    replaces them, as ``write_predictions_task`` does); rows and days. Recorded as ``score_task`` is."""
    store = open_store(config, root)
    assert isinstance(store, ParquetPredictionStore)  # config: the dask engine writes Parquet
    # one scoring time for the whole batch; the meta is an empty window scored (its columns and types)
    args = (config, config.tracking.registered_model, version, pd.Timestamp(dt.datetime.now(dt.UTC)), threshold)
    scored = window.map_partitions(  # type: ignore[no-untyped-call]
        _score, model, *args, run_id, meta=_score(window._meta, model, *args, run_id), enforce_metadata=False
    )
    started = time.perf_counter()
    summary, days = write_days(scored, store, "batch", SUMMARY_COLUMNS, scheduler)
    seconds = time.perf_counter() - started
    tracking.log_params(run_id, {"partitions": ",".join(d.isoformat() for d in days)})
    record_scoring(summary, seconds, config, version, run_id)
    return len(summary), days


def _score(frame: pd.DataFrame, model: Any, *args: Any) -> pd.DataFrame:
    *scoring, run_id = args
    return with_run_id(score_frame(model, frame, *scoring), run_id)
