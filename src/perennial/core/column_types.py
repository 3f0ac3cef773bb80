"""What each column of a table is, read from its values: the starting point of a config.

``infer_types`` sorts columns into numeric, categorical (text with few values, booleans),
datetime (real timestamps or text that parses as one), and columns to leave out with the
reason: all null, one value, an id or row number, numbers with a unit or dates in several formats,
an id-like or free text with too many distinct values to be a category. ``perennial init`` writes the result into a starter config, where it can be edited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perennial.core.data import DATE_NUMBERS, date_number_format, epoch_unit
from perennial.core.date_formats import several_date_formats
from perennial.core.fingerprint import NESTED
from perennial.core.names import reserved_feature_reason

# Text with more distinct values than this share of rows (and than MAX_CATEGORIES) is free text or an id
MAX_CATEGORY_SHARE = 0.5
MAX_CATEGORIES = 200
# a column judged a leak: its values that repeat carry one outcome each, or it alone separates the
# outcomes (AUC) or follows a numeric target (|correlation|) at least this well, over this many rows
LEAK_SEPARATION = 0.999
MIN_LEAK_ROWS = 30


@dataclass(frozen=True, slots=True)
class ColumnTypes:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is left out
    periods: tuple[str, ...] = ()  # the datetime columns written as months or quarters: no day or hour to learn

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical, *self.datetime)


def nested_cells(values: pd.Series) -> str | None:
    """Why a column holds JSON objects or lists (a JSON-lines field like {"city": "a"}), or None:
    a model reads plain values, and pandas cannot even count such cells (they are unhashable)."""
    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) != "mixed":
        return None  # text, numbers, booleans: the common case, decided without a Python loop
    cells = values.dropna()
    found = cells[cells.map(lambda v: isinstance(v, NESTED))]
    if found.empty:
        return None
    first = found.iloc[0]
    keyed = isinstance(first, dict) and first
    example = f"{values.name}.{next(iter(first))}" if keyed else f"{values.name}_count or one column per item"
    return f"nested JSON objects/lists: flatten them into plain columns, e.g. {example}"


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
    """`id`, `customer_id`, `customerId`, `CustomerID`, `order key`; not a word that ends in id
    (`amount_paid`, `humid`, `valid`: a unique amount in cents was taken for an id)."""
    lower = name.lower()
    if lower in ("id", "key") or lower.endswith(("uuid", "guid")) or re.search(r"[ _.-](id|key)$", lower):
        return True
    return bool(re.search(r"[a-z0-9](Id|ID|Key)$", name))  # camel case: customerId, CustomerID


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


DATE_SHAPES = r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}"
# a month or a quarter as text (2019-01, 2019/1, 01/2019, Jan 2019, January 2019, 2019Q1, 2019-Q1): a
# period of record, pandas reads it as its first day. Kept a category, every later month was one the
# model never saw (fuzz8 L1)
PERIOD_SHAPES = r"\d{4}[-/]\d{1,2}|\d{1,2}/\d{4}|[A-Za-z]{3,9}\.? \d{4}|\d{4}-?Q[1-4]"


def _text_sample(values: pd.Series) -> pd.Series:
    """The first 200 present values of a text column, stripped: what its shape is judged on."""
    return values.dropna().astype(str).str.strip().head(200)


def written_as_periods(values: pd.Series) -> bool:
    """Text that names months or quarters (2019-01, Jan 2019, 2019Q1), not days or instants."""
    if values.dtype != object:
        return False
    sample = _text_sample(values)
    return not sample.empty and bool(sample.str.fullmatch(PERIOD_SHAPES).all())


def looks_like_datetime(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    if values.dtype != object:
        return False
    sample = _text_sample(values)
    dated = sample.str.contains(DATE_SHAPES, regex=True) | sample.str.fullmatch(PERIOD_SHAPES)
    if sample.empty or not dated.all():
        return False
    return bool(pd.to_datetime(sample, errors="coerce", format="mixed").notna().all())


UNIT_SIGNS = r"[$€£¥%]"
THOUSANDS_MARKS = r"\d,\d{3}(?!\d)"  # 16,884.92: a CSV source reads these only with data.source.thousands


def numbers_as_text(values: pd.Series, marks: str = UNIT_SIGNS) -> str | None:
    """A value of a text column whose values are all numbers, half of them or more written with
    ``marks`` ('$1,228', '11.8%'), or None. Stripped of signs, spaces and commas they read as numbers."""
    present = values.dropna().astype(str).str.strip()
    marked = present.str.contains(marks, regex=True)
    if not len(present) or not marked.mean() >= 0.5:
        return None
    bare = present.str.replace(r"[$€£¥%\s,]", "", regex=True)
    return str(present[marked].iloc[0]) if pd.to_numeric(bare, errors="coerce").notna().all() else None


def plain_number(text: str) -> str:
    """'$16,884.92' written as a plain number: '16884.92'."""
    return re.sub(r"[$€£¥%\s,]", "", text)


def numbers_with_units(values: pd.Series) -> str | None:
    """Why a text column is numbers written with a currency or percent sign ('$1,228', '11.8%'), or
    None: as text every amount would be a category of its own (and a new one at scoring)."""
    if example := numbers_as_text(values):
        return f"numbers written with a unit ({example!r}): write them as plain numbers to use them"
    return None


def leaks_target(values: pd.Series, target: pd.Series) -> str | None:
    """Why a column gives the target away (a copy of it, or a code written once the outcome was
    known), or None. A model trained on it scores perfectly on the holdout and is promoted, then
    fails where the outcome is not yet known: an outcome code copied from the label gave AUC 1.0.

    Two readings: the values that repeat each carry one outcome on nearly every row; or (numbers)
    the column alone orders the two outcomes, or moves with a numeric target, without error.
    """
    if why := _gaps_give_away(values, target):
        return why
    both = values.notna() & target.notna()
    value, outcome = values[both], target[both]
    if len(value) < MIN_LEAK_ROWS or outcome.nunique() < 2:
        return None
    counts = value.value_counts()
    repeated = value.isin(counts.index[counts >= 2])
    if repeated.mean() >= 0.9 and outcome[repeated].groupby(value[repeated]).nunique().max() == 1:
        return (
            f"each of its {value[repeated].nunique():,} values goes with one outcome on {int(repeated.sum()):,} rows: "
            "it gives the target away (put it back only if it is known before the outcome)"
        )
    if not pd.api.types.is_numeric_dtype(value.dtype) or pd.api.types.is_bool_dtype(value.dtype):
        return None
    numbers = value.astype("float64")
    if outcome.nunique() == 2:
        codes = (outcome == outcome.iloc[0]).to_numpy()
        ranks = numbers.rank().to_numpy()
        positives = int(codes.sum())
        auc = (ranks[codes].sum() - positives * (positives + 1) / 2) / (positives * (len(codes) - positives))
        separation = max(auc, 1 - auc)
        if separation >= LEAK_SEPARATION:
            return (
                f"alone it separates the two outcomes (AUC {separation:.4f}): it gives the target away "
                "(put it back only if it is known before the outcome)"
            )
    elif pd.api.types.is_numeric_dtype(outcome.dtype) and numbers.std() > 0:
        correlation = abs(float(np.corrcoef(numbers, outcome.astype("float64"))[0, 1]))
        if correlation >= LEAK_SEPARATION:
            return (
                f"it moves with the target (correlation {correlation:.4f}): it gives the target away "
                "(put it back only if it is known before the outcome)"
            )
    return None


CHANCE = 1e-9  # how unlikely one outcome on every filled (or empty) row must be by chance to be a leak


def _gaps_give_away(values: pd.Series, target: pd.Series) -> str | None:
    """Why the column's gaps give a class target away, or None: it is filled (or empty) only on rows
    of one outcome, far beyond chance (a cancellation reason, written once a customer left; AUC 1.0)."""
    known = target.notna()
    filled, outcome = values[known].notna(), target[known]
    if outcome.nunique() < 2 or pd.api.types.is_float_dtype(outcome.dtype):
        return None  # a numeric target with many values is a regression's: no outcome per row to give away
    shares = outcome.value_counts(normalize=True)
    for part, word in ((filled, "filled"), (~filled, "empty")):
        rows = outcome[part]
        if len(rows) >= MIN_LEAK_ROWS and rows.nunique() == 1 and shares[rows.iloc[0]] ** len(rows) < CHANCE:
            return (
                f"it is {word} only on rows whose target is {rows.iloc[0]!r} ({len(rows):,} rows): it gives the "
                "target away (put it back only if it is known before the outcome)"
            )
    return None


EXACT_FIT = 0.9999  # R² of the target on some numeric columns: they add up to it
EXACT_FIT_ROWS = 20_000  # rows (a seeded sample) the fit is measured on


def adds_up_to_target(frame: pd.DataFrame, numeric: Sequence[str], target: pd.Series) -> dict[str, str]:
    """Numeric columns that together make a numeric target exactly (bike rentals' casual + registered
    = cnt: each alone only correlates), each with why; empty when no combination does. A model
    trained on them scores R² 1.0 on the holdout and cannot be used before the outcome is known."""
    if not numeric or not pd.api.types.is_numeric_dtype(target.dtype) or pd.api.types.is_bool_dtype(target.dtype):
        return {}
    data = frame.loc[:, list(numeric)].assign(__target=target).dropna()
    data = data.sample(EXACT_FIT_ROWS, random_state=0) if len(data) > EXACT_FIT_ROWS else data
    if len(data) < max(MIN_LEAK_ROWS, 3 * len(numeric)) or data["__target"].nunique() < 3:
        return {}
    y = data.pop("__target").to_numpy(dtype=np.float64)
    columns = {c: data[c].to_numpy(dtype=np.float64) for c in numeric}

    def fit(names: Sequence[str]) -> float:
        X = np.column_stack([np.ones(len(y)), *(columns[n] for n in names)])
        residual = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        return 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())

    whole = fit(numeric)
    if whole < EXACT_FIT:
        return {}
    needed = [c for c in numeric if fit([n for n in numeric if n != c]) < EXACT_FIT]
    return {
        c: (
            f"with {', '.join(repr(n) for n in needed if n != c) or 'the others'} it makes the target exactly "
            f"(R² {whole:.4f} on {len(y):,} rows): together they give it away (put them back only if they are "
            "known before the outcome)"
        )
        for c in needed
    }


def infer_types(frame: pd.DataFrame, exclude: tuple[str, ...] = (), target: pd.Series | None = None) -> ColumnTypes:
    """Each column's kind (``exclude``: the target, id and time columns, which are not features);
    with ``target``, a column that gives it away is left out."""
    numeric, categorical, datetime, periods, dropped = [], [], [], [], {}
    rows = max(1, len(frame))
    for name in (str(c) for c in frame.columns if str(c) not in exclude):
        values = frame[name]
        why = reserved_feature_reason(name) or nested_cells(values) or degenerate(values) or row_label(name, values)
        why = why or (leaks_target(values, target) if target is not None else None)
        if why:
            dropped[name] = why
        elif pd.api.types.is_bool_dtype(values.dtype):
            categorical.append(name)
        elif pd.api.types.is_numeric_dtype(values.dtype):
            numeric.append(name)
        elif looks_like_datetime(values):
            datetime.append(name)
            if written_as_periods(values):
                periods.append(name)
        elif written := numbers_with_units(values) or several_date_formats(values):
            dropped[name] = written
        elif (distinct := values.nunique(dropna=True)) > MAX_CATEGORIES and distinct > MAX_CATEGORY_SHARE * rows:
            dropped[name] = (
                f"text with {distinct:,} distinct values in {rows:,} rows (an id or free text, not a category)"
            )
        else:
            categorical.append(name)
    if target is not None:
        for name, why in adds_up_to_target(frame, numeric, target).items():
            numeric.remove(name)
            dropped[name] = why
    return ColumnTypes(tuple(numeric), tuple(categorical), tuple(datetime), dropped, tuple(periods))


def suggest_id(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """A column that looks like a row id (unique, no nulls, named like one), and why (or why none)."""
    for name in (str(c) for c in frame.columns if str(c) not in exclude):
        values = frame[name]
        if named_like_id(name) and values.notna().all() and not nested_cells(values) and values.is_unique:
            return name, f"'{name}' is unique and named like an id"
    return None, "no column is unique and named like an id: rows are keyed by their content (core/data.row_keys)"


def repeated_ids(values: pd.Series) -> str | None:
    """Why a column given as the row id names some rows more than once, or None. Training refuses
    such an id (its contract says unique); said before, it costs no run."""
    shared = values[values.duplicated(keep=False) & values.notna()]
    if shared.empty:
        return None
    examples = ", ".join(map(str, shared.drop_duplicates().head(3)))
    return (
        f"column '{values.name}' is not unique: {len(shared):,} rows share {shared.nunique():,} values "
        f"(e.g. {examples}); an id names each row once: choose another column, or none (rows are then keyed "
        "by their content)"
    )


def suggest_time(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """The datetime column with the most distinct values (an event time), and why (or why none)."""
    candidates = [str(c) for c in frame.columns if str(c) not in exclude and looks_like_datetime(frame[c])]
    if not candidates:
        return _suggest_epoch(frame, exclude)
    best = max(candidates, key=lambda c: frame[c].nunique())
    return best, f"'{best}' holds timestamps ({frame[best].nunique():,} distinct)"


def _suggest_epoch(frame: pd.DataFrame, exclude: tuple[str, ...]) -> tuple[str | None, str]:
    """A numeric column whose values read as Unix time (kept a numeric feature unless chosen), and what it spans."""
    for name in (str(c) for c in frame.columns if str(c) not in exclude):
        if unit := epoch_unit(frame[name]):
            times = pd.to_datetime(frame[name], unit=unit, utc=True)
            seconds = "seconds" if unit == "s" else "milliseconds"
            return name, (
                f"'{name}' holds numbers that read as Unix epoch {seconds} ({times.min():%Y-%m-%d} to "
                f"{times.max():%Y-%m-%d}), a timestamp kept as a numeric feature: if they are event times, "
                f"pass --time {name}"
            )
    for name in (str(c) for c in frame.columns if str(c) not in exclude):
        if fmt := date_number_format(frame[name]):
            return None, (
                f"'{name}' holds dates written as numbers ({frame[name].min():g} to {frame[name].max():g}: "
                f"{DATE_NUMBERS[fmt]}), kept as a numeric feature: to split on them, write them as dates "
                f"(e.g. 2019-01) and pass --time {name}"
            )
    return None, "no column holds timestamps: the split is a seeded random one by row key"
