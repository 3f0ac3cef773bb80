"""Pure data helpers: the split (by time or by a stable hash of row keys), row keys, feature and label
extraction (fingerprints: core/fingerprint.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from perennial.config import Config, HashSplit, TimeSplit
from perennial.errors import DataSourceError

# Events stamped after now cannot have happened: a clock or unit bug upstream. Some skew is tolerated.
FUTURE_TOLERANCE = pd.Timedelta(hours=1)
# Numbers read as Unix time by magnitude, as the service reads a JSON number (pydantic: milliseconds
# above 2e10): seconds or milliseconds from 1973 to 2603. Anything else is not taken for a time.
EpochUnit = Literal["s", "ms"]
EPOCH_UNITS: dict[EpochUnit, tuple[float, float]] = {"s": (1e8, 2e10), "ms": (1e11, 2e13)}


def epoch_unit(values: pd.Series) -> EpochUnit | None:
    """'s' or 'ms' when every value of a numeric column reads as Unix time in that unit, else None."""
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return None
    present = values.dropna()
    for unit, (low, high) in EPOCH_UNITS.items():
        if len(present) and present.between(low, high, inclusive="left").all():
            return unit
    return None


# dates written as whole numbers (201901, 20190131): their digits, not a count of seconds
DATE_NUMBERS = {"%Y%m": "year and month", "%Y%m%d": "year, month and day"}


def date_number_format(values: pd.Series) -> str | None:
    """'%Y%m' or '%Y%m%d' when every value of a numeric column is a whole number that reads as one, else None."""
    present = values.dropna()
    if not len(present) or not pd.api.types.is_numeric_dtype(values.dtype) or (present % 1 != 0).any():
        return None
    for fmt, (low, high) in {"%Y%m": (190001, 210012), "%Y%m%d": (19000101, 21001231)}.items():
        if present.between(low, high).all():
            digits = present.astype("int64").astype(str)
            if pd.to_datetime(digits, format=fmt, errors="coerce").notna().all():
                return fmt
    return None


def numbers_not_times(values: pd.Series) -> str:
    """What a numeric column holds that is not Unix time, in words (years, dates as digits, or which numbers)."""
    present = values.dropna()
    shown = ", ".join(f"{v:g}" for v in present.drop_duplicates().head(3))
    if len(present) and (present % 1 == 0).all() and present.between(1000, 2999).all():
        return f"holds years ({shown}...), not timestamps (a bare number reads as Unix seconds)"
    if fmt := date_number_format(values):
        return f"holds dates written as numbers ({shown}...: {DATE_NUMBERS[fmt]}), which would read as Unix seconds"
    return (
        f"holds numbers ({shown}...; {present.min():g} to {present.max():g}), neither Unix epoch seconds "
        f"({EPOCH_UNITS['s'][0]:g} to {EPOCH_UNITS['s'][1]:g}) nor milliseconds"
    )


def parse_times(frame: pd.DataFrame, column: str, source: str, now: dt.datetime | None = None) -> pd.Series:
    """The time column as UTC timestamps; unparseable or future values are an error naming the column.

    Checked on the whole source, before any window is cut: a window filter would drop future
    rows silently.
    """
    if column not in frame.columns:
        raise DataSourceError(f"{source}: time column '{column}' is missing")
    values = frame[column]
    parsed: pd.Series
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype):  # pandas would take numbers for nanoseconds: 1970
        if (unit := epoch_unit(values)) is None:
            raise DataSourceError(
                f"{source}: time column '{column}' {numbers_not_times(values)}: write the times as dates or "
                "timestamps (e.g. 2015-01-01) or Unix seconds, or set data.time_column to another column"
            )
        parsed = pd.to_datetime(values, unit=unit, utc=True)
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


def rows_in_window(
    frame: pd.DataFrame, time_column: str, start: dt.date | None, end: dt.date | None, source: str
) -> pd.DataFrame:
    """The rows with start <= time < end (either optional), the time column as UTC timestamps; the
    rows' order is kept. Applied to each partition of a lazy source (``parse_times`` checks its rows)."""
    times = parse_times(frame, time_column, source)
    keep = pd.Series(True, index=frame.index)
    if end is not None:
        keep &= times < _utc(end)
    if start is not None:
        keep &= times >= _utc(start)
    return frame.assign(**{time_column: times}).loc[keep]


def _utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def labelled(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, int]:
    """The rows that carry a target, and how many did not (they cannot teach or judge; they are still scored)."""
    has = frame[config.data.target.column].notna()
    return (frame, 0) if bool(has.all()) else (frame.loc[has].reset_index(drop=True), int((~has).sum()))


def split_frame(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows) by the configured split."""
    if isinstance(config.split, TimeSplit):
        return split_by_time(frame, config)
    return split_by_hash(frame, config)


def split_by_time(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on [train_start, train_end), hold out [train_end, holdout_end): never at random.

    The training part keeps at most ``training.max_train_rows`` rows, the most recent ones.
    """
    split, time_column = config.split, config.data.time_column
    assert isinstance(split, TimeSplit) and time_column is not None  # the config validator ensures it
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


def split_by_hash(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the rows whose key hashes below ``holdout_share``: a row keeps its side across retrains.

    The side depends on the row's key alone (never on the other rows), so data appended later
    cannot move a row a champion trained on into a later holdout. Both sides keep the label mix in
    expectation (the hash ignores the label). ``training.max_train_rows`` keeps the lowest hashes.
    Identical rows (no id column) share the first one's side: a copy in training would let the
    holdout score a row the model has seen (60 duplicated rows put 28 copies in a 187-row holdout).
    """
    split = config.split
    assert isinstance(split, HashSplit)
    keys = row_keys(frame, config)
    if config.data.id_column is None:
        keys = keys.str.replace(r"-\d+$", "-0", regex=True)  # <content>-<n>: every copy as the first
    position = hash_share(keys, split.seed)
    holdout_mask = position < split.holdout_share
    train, holdout = frame.loc[~holdout_mask], frame.loc[holdout_mask]
    cap = config.training.max_train_rows
    if cap is not None and len(train) > cap:
        train = train.loc[position[~holdout_mask].sort_values(kind="stable").index[:cap]].sort_index()
    for name, part in (("training", train), ("holdout", holdout)):
        if len(part) < 2:
            raise DataSourceError(
                f"the {name} side of the hash split (holdout_share {split.holdout_share:g}) holds "
                f"{len(part)} of {len(frame):,} rows: too few to train and evaluate"
            )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


LARGEST_NUMBER = 1e150  # a sentinel such as 1e300 is no measurement, and its square is infinite


def check_finite(frame: pd.DataFrame, columns: Iterable[str], where: str = "the data") -> None:
    """Refuse infinite or outsized values in numeric features (a ratio divided by zero, a 1e300 sentinel):
    no model fits or scores them, and reading them as missing would be a guess the data's owner should make."""
    found = []
    for column in columns:
        if column in frame.columns and pd.api.types.is_float_dtype(frame[column].dtype):
            # beyond ~1e154 a square overflows: scaling the column (its variance) turns it into NaN
            outsized = int((np.abs(frame[column].to_numpy()) > LARGEST_NUMBER).sum())
            if outsized:
                found.append(f"'{column}' ({outsized:,} rows)")
    if found:
        raise DataSourceError(
            f"{where}: infinite or outsized values (beyond ±{LARGEST_NUMBER:.0e}) in {', '.join(found)}: a model "
            "cannot learn from or score them; write them as missing (an empty cell) or as a bound in the data"
        )


def check_classes_learnable(train: pd.DataFrame, holdout: pd.DataFrame, config: Config) -> None:
    """A classifier learns only the classes its training rows hold: each class of the holdout must be
    among them, and there must be two (else the fit, or the holdout's scoring, fails on a class it never saw)."""
    if config.task == "regression":
        return
    column = config.data.target.column
    seen = set(train[column].dropna().unique())
    unseen = holdout[column].dropna()
    unseen = unseen[~unseen.isin(seen)].value_counts()
    where = _split_said(config)
    if len(seen) < 2:
        raise DataSourceError(
            f"the training rows of {where} hold one class of '{column}' only ({_listed(seen)}): a model needs two "
            f"to learn; {_widen(config)}"
        )
    if not unseen.empty:
        counts = ", ".join(f"{label!r} ({count:,} rows)" for label, count in unseen.head(5).items())
        raise DataSourceError(
            f"the holdout of {where} holds classes of '{column}' that no training row has: {counts}; a model "
            f"cannot learn a class it never saw; {_widen(config)}"
        )


def _split_said(config: Config) -> str:
    split = config.split
    if isinstance(split, TimeSplit):
        return f"split (train_end {split.train_end}, holdout_end {split.holdout_end})"
    return f"the hash split (holdout_share {split.holdout_share:g})"


def _widen(config: Config) -> str:
    if isinstance(config.split, TimeSplit):
        return "move split.train_end later, or use split: {kind: hash} if the rows are not a time series"
    return "a class this rare cannot be learnt: gather more of its rows, or merge it into another class"


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in sorted(values, key=str)) or "none"


def hash_share(keys: pd.Series, seed: int) -> pd.Series:
    """Each key's place in [0, 1): a seeded hash, the same on every machine and every run."""
    salt = hashlib.sha256(str(seed).encode()).hexdigest()[:16]
    hashed = pd.util.hash_pandas_object(keys.astype(str), index=False, hash_key=salt).to_numpy()
    return pd.Series(hashed / 2.0**64, index=keys.index)


def row_keys(frame: pd.DataFrame, config: Config) -> pd.Series:
    """Each row's key: the id column's text, else ``<content hash>-<n>``.

    Without an id column the key is a hash of the row's feature values (numbers and booleans compared
    as numbers, so 1 and 1.0 agree, and True with or without nulls beside it; everything else as text) and ``n`` counts earlier identical rows
    in the same frame: a row keeps its key wherever it sits, and duplicates stay apart. Labels given
    later must come in the same rows (same feature values) to find their predictions.
    """
    if config.data.id_column is not None:
        return id_text(frame[config.data.id_column])
    features = config.data.features
    return content_keys(frame, features.columns, [d.column for d in features.datetime])


EXACT_INTEGERS = 2**53  # a float holds every whole number up to this, and no longer every one past it


def id_text(ids: pd.Series) -> pd.Series:
    """An id column's values as the text keys are made of, as the service and a text file write them.

    Whole numbers read as floats (an id column with a gap is read so) are written without their decimal
    point: 1001, as the service and a labels file with no gap write it, not 1001.0, which never met them.
    Past 2**53 a float no longer holds each whole number, so distinct ids may have been read as one:
    refused, naming the column and the way to read it as text.
    """
    if not pd.api.types.is_float_dtype(ids.dtype):
        return ids.astype(str)
    present = ids.dropna()
    finite = bool(np.isfinite(present).all())
    if not (finite and np.array_equal(present, np.floor(present))):  # fractional ids: a float's text names it
        return ids.astype(str)
    if len(present) and float(present.abs().max()) > EXACT_INTEGERS:
        raise DataSourceError(
            f"id column '{ids.name}' holds whole numbers past 2**53 read as floats (a gap in the column makes "
            f"them floats), so distinct ids may have been read as one: read it as text (a CSV source: "
            f"data.source.text_columns: [{ids.name}])"
        )
    text = ids.astype(str).to_numpy(dtype=object)  # by position: a concatenated frame's index may repeat
    text[ids.notna().to_numpy()] = present.astype("int64").astype(str).to_numpy()
    return pd.Series(text, index=ids.index, name=ids.name)


def content_keys(frame: pd.DataFrame, columns: Iterable[str], datetimes: Iterable[str] = ()) -> pd.Series:
    """``<hash of the row's values in columns>-<n>``: see ``row_keys``.

    ``datetimes``: columns hashed as instants (UTC), however they arrive: a CSV's text, a Parquet
    date's ``datetime.date`` objects, timestamps, the service's parsed JSON. As written they hashed
    apart ('2024-01-05' against '2024-01-05 00:00:00+00:00'), and a served row never met its label.
    """
    names = sorted(c for c in set(columns) if c in frame.columns)
    instants = set(datetimes)
    content = pd.DataFrame(
        {c: _instants(frame[c]) if c in instants else _comparable(frame[c]) for c in names}, index=frame.index
    )
    digest = pd.Series(pd.util.hash_pandas_object(content, index=False).to_numpy(), index=frame.index)
    occurrence = digest.groupby(digest, sort=False).cumcount()
    return digest.map("{:016x}".format) + "-" + occurrence.astype(str)


def _instants(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    return parsed.astype(str).where(parsed.notna(), "")


def _comparable(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    if pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        # booleans with gaps are objects (a CSV's, a nullable boolean read plain): as a bool column hashes
        return values.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.to_datetime(values, utc=True).astype(str)
    return values.astype(str).where(values.notna(), "")


def features_of(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Exactly the raw columns the model reads, in the model's order."""
    return frame.loc[:, list(config.data.features.columns)]


def labels_of(frame: pd.DataFrame, config: Config) -> np.ndarray:
    """The 0/1 codes of the target (the column is encoded when the data is loaded: core/target.py)."""
    return frame[config.data.target.column].astype("int64").to_numpy()


def model_inputs(model: Any, frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The columns this model was fitted on: a champion may predate a change of feature list."""
    names = getattr(model, "feature_names_in_", None)
    return frame.loc[:, list(names)] if names is not None else features_of(frame, config)


def trained_through(train: pd.DataFrame, config: Config) -> str:
    """The last event time a model trained on (ISO, UTC): the gate never judges it on rows up to then."""
    return pd.Timestamp(train[config.data.time_column].max()).isoformat()
