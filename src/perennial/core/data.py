"""Pure data helpers: time-based split, fingerprints, feature and label extraction."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.errors import DataSourceError


# Events stamped after now cannot have happened: a clock or unit bug upstream. Some skew is tolerated.
FUTURE_TOLERANCE = pd.Timedelta(hours=1)


def parse_times(frame: pd.DataFrame, column: str, source: str, now: dt.datetime | None = None) -> pd.Series:
    """The time column as UTC timestamps; unparseable or future values are an error naming the column.

    Checked on the whole source, before any window is cut: a window filter would drop future
    rows silently.
    """
    if column not in frame.columns:
        raise DataSourceError(f"{source}: time column '{column}' is missing")
    values = frame[column]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        sample = values[bad].astype(str).head(3).tolist()
        raise DataSourceError(
            f"{source}: column '{column}' has {int(bad.sum()):,} values that are not timestamps, e.g. {sample}"
        )
    limit = pd.Timestamp(now or dt.datetime.now(dt.UTC))
    limit = (limit.tz_localize("UTC") if limit.tzinfo is None else limit.tz_convert("UTC")) + FUTURE_TOLERANCE
    future = parsed > limit
    if future.any():
        sample = [f"{t:%Y-%m-%d %H:%M}" for t in parsed[future].head(3)]
        raise DataSourceError(
            f"{source}: column '{column}' has {int(future.sum()):,} timestamps in the future "
            f"(after {limit:%Y-%m-%d %H:%M} UTC), e.g. {sample}: rule 'no events after now'"
        )
    return parsed


def _utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def split_by_time(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on [train_start, train_end), hold out [train_end, holdout_end): never at random.

    The training part keeps at most ``training.max_train_rows`` rows, the most recent ones.
    """
    split, time_column = config.split, config.data.time_column
    times = frame[time_column]
    start = _utc(split.train_start) if split.train_start else times.min()
    train = frame[(times >= start) & (times < _utc(split.train_end))]
    holdout = frame[(times >= _utc(split.train_end)) & (times < _utc(split.holdout_end))]
    cap = config.training.max_train_rows
    if cap is not None and len(train) > cap:
        train = train.sort_values(time_column, kind="stable").tail(cap)
    for name, part in (("training", train), ("holdout", holdout)):
        if part.empty:
            raise DataSourceError(
                f"the {name} window of split {split.model_dump(mode='json')} holds no rows of '{time_column}'"
            )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the whole frame (values, columns and order): ties a model to its data."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def features_of(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Exactly the raw columns the model reads, in the model's order."""
    return frame.loc[:, list(config.data.features.columns)]


def labels_of(frame: pd.DataFrame, config: Config) -> np.ndarray:
    return frame[config.data.target].astype("int64").to_numpy()


def model_inputs(model: Any, frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The columns this model was fitted on: a champion may predate a change of feature list."""
    names = getattr(model, "feature_names_in_", None)
    return frame.loc[:, list(names)] if names is not None else features_of(frame, config)


def trained_through(train: pd.DataFrame, config: Config) -> str:
    """The last event time a model trained on (ISO, UTC): the gate never judges it on rows up to then."""
    return pd.Timestamp(train[config.data.time_column].max()).isoformat()
