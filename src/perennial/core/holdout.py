"""A holdout that can carry a verdict: reach back over the most recent labelled rows when one window is short.

A retrain holds out the window that asked for it; a month of a small feed may hold 30 rows, on
which no gate can judge anything. The holdout then takes the most recent rows before it, day by
day, until it holds the minimum evidence — but never more than half of the data, so that the
candidate still trains on at least as many rows as it is judged on.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from perennial.config import Config, TimeSplit


def reach_back(frame: pd.DataFrame, config: Config) -> tuple[dt.date, str]:
    """The training cutoff that gives the holdout its evidence, and what was done in words.

    Returns the configured ``train_end`` unchanged (and no words) when the holdout is enough
    as configured, or when ``gate.min_evidence.extend_holdout`` is off.
    """
    minimum, split = config.gate.min_evidence, config.split
    if not isinstance(split, TimeSplit) or config.data.time_column is None:
        raise ValueError("reach_back moves a time split; a hash split's holdout is a fixed share of rows")
    times = frame[config.data.time_column]
    end = pd.Timestamp(split.holdout_end, tz="UTC")
    start = pd.Timestamp(split.train_start, tz="UTC") if split.train_start else times.min()
    usable = ((times >= start) & (times < end)).to_numpy()
    t = times[usable].to_numpy(dtype="datetime64[ns]")  # UTC, naive
    y = frame.loc[usable, config.data.target.column].to_numpy()
    order = np.argsort(t, kind="stable")[::-1]  # newest first
    per_class = minimum.rows_per_class if config.task != "regression" else 0
    need = _rows_needed(y[order], minimum.holdout_rows, per_class)
    configured = pd.Timestamp(split.train_end, tz="UTC")
    held = int((t >= configured.to_datetime64()).sum())
    limit = len(t) // 2  # training keeps at least as many rows as the holdout takes
    take = min(need if need is not None else limit, limit)
    if not minimum.extend_holdout or take <= held:
        return split.train_end, ""
    cutoff = min(pd.Timestamp(t[order][take - 1]).date(), split.train_end)
    if split.train_start and cutoff <= split.train_start:
        return split.train_end, ""
    capped = "" if need is not None and need <= limit else "; capped at half the rows, so training keeps as many"
    note = (
        f"the window from {split.train_end} held {held:,} rows: reached back to {cutoff} "
        f"for the most recent labelled rows{capped}"
    )
    return cutoff, note


def _rows_needed(labels: np.ndarray, rows: int, per_class: int) -> int | None:
    """How many of the newest rows hold ``rows`` rows and ``per_class`` of each class; None if all do not."""
    if len(labels) < rows:
        return None
    needed = rows
    for value in np.unique(labels) if per_class else ():
        hits = np.flatnonzero(labels == value)
        if len(hits) < per_class:
            return None
        needed = max(needed, int(hits[per_class - 1]) + 1)
    return needed
