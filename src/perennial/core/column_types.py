"""What each column of a table is, read from its values: the starting point of a config.

``infer_types`` sorts columns into numeric, categorical (text with few values, booleans),
datetime (real timestamps or text that parses as one), and columns to leave out with the
reason: all null, one value, an id or row number, an id-like or free text with too many distinct
values to be a category. ``perennial init`` writes the result into a starter config, where it can be edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perennial.core.names import reserved_feature_reason

# Text with more distinct values than this share of rows (and than MAX_CATEGORIES) is free text or an id
MAX_CATEGORY_SHARE = 0.5
MAX_CATEGORIES = 200


@dataclass(frozen=True, slots=True)
class ColumnTypes:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is left out

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical, *self.datetime)


def degenerate(values: pd.Series) -> str | None:
    """Why a column cannot teach a model anything (all null, one value), or None."""
    if values.isna().all():
        return "all values are missing"
    if values.nunique(dropna=True) == 1:
        if values.isna().any():  # 'Y' or empty: whether a value is there is the information (a flag)
            return None
        only = values.dropna().iloc[0]
        if isinstance(only, np.generic):  # numpy's 1 reads 1, not np.int64(1)
            only = only.item()
        return f"one value only ({only!r})"
    return None


def named_like_id(name: str) -> bool:
    lower = name.lower()
    return lower in ("id", "key", "uuid") or lower.endswith(("_id", "id", "_key", "uuid"))


def row_label(name: str, values: pd.Series) -> str | None:
    """Why a column of whole numbers names rows instead of describing them (an id, a row number), or None.

    As a feature it would let a model learn the order rows were written in (a leak on a time-ordered
    table, noise elsewhere): a unique column named like an id, or unique consecutive whole numbers
    (a saved index, `Unnamed: 0`).
    """
    if not pd.api.types.is_integer_dtype(values.dtype) or values.isna().any() or not values.is_unique:
        return None
    if named_like_id(name):
        return "unique and named like an id: it names rows, it does not describe them (data.id_column can key by it)"
    if len(values) > 2 and int(values.max()) - int(values.min()) == len(values) - 1:
        return "unique consecutive whole numbers: a row number (a saved index), not a feature"
    return None


def looks_like_datetime(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    if values.dtype != object:
        return False
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}", regex=True).all():
        return False
    return bool(pd.to_datetime(sample, errors="coerce", format="mixed").notna().all())


def infer_types(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> ColumnTypes:
    """Each column's kind (``exclude``: the target, id and time columns, which are not features)."""
    numeric, categorical, datetime, dropped = [], [], [], {}
    rows = max(1, len(frame))
    for name in (str(c) for c in frame.columns if str(c) not in exclude):
        values = frame[name]
        why = reserved_feature_reason(name) or degenerate(values) or row_label(name, values)
        if why:
            dropped[name] = why
        elif pd.api.types.is_bool_dtype(values.dtype):
            categorical.append(name)
        elif pd.api.types.is_numeric_dtype(values.dtype):
            numeric.append(name)
        elif looks_like_datetime(values):
            datetime.append(name)
        elif (distinct := values.nunique(dropna=True)) > MAX_CATEGORIES and distinct > MAX_CATEGORY_SHARE * rows:
            dropped[name] = (
                f"text with {distinct:,} distinct values in {rows:,} rows (an id or free text, not a category)"
            )
        else:
            categorical.append(name)
    return ColumnTypes(tuple(numeric), tuple(categorical), tuple(datetime), dropped)


def suggest_id(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """A column that looks like a row id (unique, no nulls, named like one), and why (or why none)."""
    for name in (str(c) for c in frame.columns if str(c) not in exclude):
        values = frame[name]
        if named_like_id(name) and values.notna().all() and values.is_unique:
            return name, f"'{name}' is unique and named like an id"
    return None, "no column is unique and named like an id: rows are keyed by their content (core/data.row_keys)"


def suggest_time(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """The datetime column with the most distinct values (an event time), and why (or why none)."""
    candidates = [str(c) for c in frame.columns if str(c) not in exclude and looks_like_datetime(frame[c])]
    if not candidates:
        return None, "no column holds timestamps: the split is a seeded random one by row key"
    best = max(candidates, key=lambda c: frame[c].nunique())
    return best, f"'{best}' holds timestamps ({frame[best].nunique():,} distinct)"
