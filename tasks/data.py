"""Load the configured source and cut the run's time window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.data import parse_times, split_by_time
from perennial.io import sources
from tasks.common import IO_RETRIES


@task(name="load-data", cache_policy=NO_CACHE, **IO_RETRIES)
def load_data_task(config: Config, root: Path) -> tuple[pd.DataFrame, str]:
    """The rows of the run's window [train_start, holdout_end), times parsed to UTC."""
    name = sources.describe_source(config.data.source, root)
    frame = sources.read_source(config.data.source, root)
    times = parse_times(frame, config.data.time_column, name)
    frame = frame.assign(**{config.data.time_column: times})
    start = pd.Timestamp(config.split.train_start, tz="UTC") if config.split.train_start else times.min()
    in_window = (times >= start) & (times < pd.Timestamp(config.split.holdout_end, tz="UTC"))
    return frame.loc[in_window].sort_values(config.data.time_column, kind="stable").reset_index(drop=True), name


@task(name="split-by-time", cache_policy=NO_CACHE)
def split_task(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_by_time(frame, config)
