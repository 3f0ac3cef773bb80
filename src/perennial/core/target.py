"""The label: which two values a target column holds, which one is positive, and 0/1 codes for them.

Users bring targets as 0/1, booleans, "yes"/"no", "M"/"B"... The model is trained on 0/1; the
labels themselves travel with it (``Labels``) so serving and monitoring answer in the user's text.
Values are compared by a *key* (``label_key``): YAML's ``positive_label: 1`` matches a CSV's 1, 1.0
or "1", and ``true`` matches True or "True", but "M" never matches "m".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config, Target
from perennial.core.column_types import THOUSANDS_MARKS, UNIT_SIGNS, numbers_as_text, plain_number
from perennial.core.names import Tag
from perennial.core.task import Task
from perennial.errors import DataSourceError, TargetError

# Pairs whose positive side is plain from the words (compared lower-case); numbers and booleans by value
_NAMED_PAIRS = {
    frozenset({"no", "yes"}): "yes",
    frozenset({"n", "y"}): "y",
    frozenset({"false", "true"}): "true",
    frozenset({"f", "t"}): "t",
    frozenset({"negative", "positive"}): "positive",
    frozenset({"neg", "pos"}): "pos",
}
SHOWN_VALUES = 8
LABELS_TAG = Tag.LABELS  # on a model version: its Labels as JSON


def label_key(value: Any) -> str:
    """A comparable text for a label value: booleans as true/false, whole numbers without '.0'."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        return text.lower() if text.lower() in ("true", "false") else text
    return str(value)


def label_keys(values: pd.Series) -> pd.Series:
    """``label_key`` of each value (missing ones stay missing), computed once per distinct value when the
    column holds one kind (text, numbers or booleans): a million labels took 6.5 s row by row. Mixed
    objects go row by row: True and 1 are equal keys to a dict, yet their label keys differ."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if values.dtype == object and kind not in ("string", "empty"):
        return values.map(label_key, na_action="ignore")
    keys = {value: label_key(value) for value in pd.unique(values.dropna())}
    return values.map(keys, na_action="ignore")


def class_names(values: pd.Series) -> pd.Series:
    """A multiclass target's values as the class names models, the store and monitoring share.

    Whole numbers are named without '.0' whatever the column's dtype: a label column with one
    gap is read as floats (2.0), and its classes must still be the '2' of the rows read as ints.
    Missing values stay missing.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.map(label_key)
    if pd.api.types.is_numeric_dtype(values.dtype):
        present = values.dropna()
        floats = present.to_numpy(dtype=np.float64)
        if bool(np.isfinite(floats).all() and (floats == np.round(floats)).all()):
            return values.astype("Int64").astype(str).where(values.notna())
        return values.astype(str).where(values.notna())
    # text kept as written; numbers among it (a JSON feed's 2 and 2.0) named as above
    return values.map(lambda v: v if isinstance(v, str) else label_key(v), na_action="ignore")


def class_value(name: str) -> str | int:
    """A class name as the data wrote it: a whole number's name ('4', '-1') as that number, any other
    name as text. '04' and '4.5' stay text: no number prints as them."""
    try:
        number = int(name)
    except ValueError:
        return name
    return number if str(number) == name else name


def native(value: Any) -> Any:
    """A JSON-friendly scalar (numpy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True, slots=True)
class Labels:
    """The two values of a binary target: ``positive`` is coded 1, ``negative`` 0."""

    column: str
    positive: Any
    negative: Any

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "positive": native(self.positive), "negative": native(self.negative)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None, column: str = "target") -> Labels:
        """A version's labels; a version from before labels travelled is 0/1."""
        if not text:
            return cls(column, 1, 0)
        raw = json.loads(text)
        return cls(raw["column"], raw["positive"], raw["negative"])

    def encode(self, values: pd.Series, where: str = "data") -> pd.Series:
        """0/1 codes as float (a missing label stays NaN); a third value is an error naming it."""
        keys = label_keys(values)
        pos, neg = label_key(self.positive), label_key(self.negative)
        unknown = keys.notna() & ~keys.isin([pos, neg])
        if unknown.any():
            seen = _shown(pd.unique(values[unknown]))
            raise TargetError(
                f"{where}: target '{self.column}' holds {seen} besides the two labels "
                f"'{self.positive}' (positive) and '{self.negative}': a binary target has two values"
                + self._spelt_otherwise(pd.unique(values[unknown]))
            )
        return (keys == pos).astype("float64").where(keys.notna())

    def _spelt_otherwise(self, unknown: Any) -> str:
        """'; 'Malignant' is 'malignant' written otherwise (case or spaces): ...' for the first unknown value
        that is one of the two labels but for case and surrounding spaces; empty when none is."""
        found = respelt(unknown, (self.positive, self.negative))
        if found is None:
            return ""
        value, label = found
        return f"; {value!r} is {str(label)!r} written otherwise (case or spaces): write the labels as the champion learnt them"

    def decode(self, codes: np.ndarray) -> list[Any]:
        """The user's labels for 0/1 predictions."""
        pos, neg = native(self.positive), native(self.negative)
        return [pos if c else neg for c in np.asarray(codes).astype(bool)]


def spelling(text: str) -> str:
    """What a text label is but for case and surrounding spaces: 'Yes', 'yes ' and ' YES' are one."""
    return text.strip().casefold()


def respelt(values: Iterable[Any], labels: Iterable[Any]) -> tuple[Any, Any] | None:
    """(value, label): the first text value that is one of ``labels`` written otherwise (case or spaces)."""
    known = {spelling(str(label)): label for label in labels}
    for value in values:
        if isinstance(value, str) and (label := known.get(spelling(value))) is not None and value != label:
            return value, label
    return None


def check_spellings(values: pd.Series, where: str = "data") -> None:
    """Refuse text labels that differ only in case or surrounding spaces ('Yes', 'yes ', ' YES').

    They are one outcome typed several ways far more often than distinct outcomes; trained as
    they are, each spelling would be a class of its own, and merging them here would be a guess.
    """
    texts = [v for v in pd.unique(values.dropna()) if isinstance(v, str)]
    spellings: dict[str, list[str]] = {}
    for text in texts:
        spellings.setdefault(spelling(text), []).append(text)
    clashes = [group for group in spellings.values() if len(group) > 1]
    if clashes:
        shown = "; ".join(" = ".join(repr(t) for t in group) for group in clashes[:SHOWN_VALUES])
        raise TargetError(
            f"{where}: target '{values.name}' spells an outcome more than one way (case or surrounding spaces): "
            f"{shown}; give each outcome one spelling in the data (a model would learn each as a class of its own)"
        )


def resolve_labels(values: pd.Series, target: Target, where: str = "data") -> Labels:
    """The two labels of ``values`` and which one is positive, from config or the values themselves."""
    check_spellings(values.rename(target.column), where)
    distinct = _distinct(values)
    if len(distinct) != 2:
        count = "no values" if not distinct else f"{len(distinct)} distinct value(s): {_shown(list(distinct.values()))}"
        raise TargetError(f"{where}: target '{target.column}' must hold exactly two values, found {count}")
    if target.positive_label is not None:
        wanted = label_key(target.positive_label)
        if wanted not in distinct:
            raise TargetError(
                f"{where}: target.positive_label '{target.positive_label}' is not among the values of "
                f"'{target.column}': {_shown(list(distinct.values()))}"
            )
        positive = wanted
    else:
        inferred = _inferred_positive(set(distinct))
        if inferred is None:
            raise TargetError(
                f"{where}: cannot tell which value of target '{target.column}' is positive: it holds "
                f"{_shown(list(distinct.values()))}; set data.target.positive_label to one of them"
            )
        positive = inferred
    negative = next(k for k in distinct if k != positive)
    return Labels(target.column, native(distinct[positive]), native(distinct[negative]))


def _distinct(values: pd.Series) -> dict[str, Any]:
    """Label key -> the first value seen with it (the user's own spelling), a whole number as an int:
    0/1 read as float (a gap beside them, a nullable Int64 read plain) are answered 0/1, not 0.0/1.0."""
    seen: dict[str, Any] = {}
    for value in pd.unique(values.dropna()):
        plain = native(value)
        whole = isinstance(plain, float) and math.isfinite(plain) and plain.is_integer()
        seen.setdefault(label_key(value), int(plain) if whole else value)
    return seen


def _inferred_positive(keys: set[str]) -> str | None:
    if keys == {"0", "1"}:
        return "1"
    if keys == {"false", "true"}:
        return "true"
    lowered = {k.lower(): k for k in keys}
    named = _NAMED_PAIRS.get(frozenset(lowered))
    return lowered[named] if named and len(lowered) == 2 else None


def _shown(values: Any) -> str:
    items = [repr(native(v)) for v in list(values)[:SHOWN_VALUES]]
    more = len(list(values)) - len(items)
    return "[" + ", ".join(items) + (f", ... {more} more" if more > 0 else "") + "]"


# A whole-number target with at most this many values reads as classes (grades, codes), more as a quantity;
# a class target with more, most of them on LONE_CLASS_ROWS rows or fewer, is not a label at all
MAX_INFERRED_CLASSES = 20
LONE_CLASS_ROWS = 2


def infer_task(values: pd.Series, where: str = "data") -> tuple[Task, str]:
    """The task a target column implies, with the reason in words (``perennial init`` writes both down).

    Two values: binary. Text, booleans or a few whole numbers: multiclass. Other numbers: regression.
    Numbers written as text ('$16,884.92') and text where most values are a class of a row or two
    are refused, not guessed at: as classes, each amount or id would be one (``check_class_rows``).
    """
    check_spellings(values, where)
    present = values.dropna()
    distinct = present.nunique()
    if distinct < 2:
        only = present.iloc[0].item() if distinct and hasattr(present.iloc[0], "item") else None
        shown = "no values" if distinct == 0 else f"only {(only if only is not None else present.iloc[0])!r}"
        raise TargetError(
            f"{where}: target '{values.name}' holds {shown}: a model needs at least two outcomes to learn"
        )
    if distinct == 2:
        return "binary", "two distinct values"
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if not numeric:
        check_amounts(values, where)
        check_class_rows(values, where)
        return "multiclass", f"{distinct} distinct text values"
    whole = bool(np.all(np.mod(present.to_numpy(dtype="float64"), 1) == 0))
    if whole and distinct <= MAX_INFERRED_CLASSES and not (count := _count_like(present)):
        return "multiclass", f"{distinct} whole-number values (pass --task regression if they are a quantity)"
    if whole and distinct <= MAX_INFERRED_CLASSES:
        return "regression", f"{distinct} whole numbers that {count} (pass --task multiclass if they are classes)"
    kind = "whole numbers" if whole else "numbers"
    return "regression", f"{distinct} distinct {kind}"


COUNT_MIN_VALUES = 11  # more whole numbers than a digit's classes, in one run
COUNT_TAIL_SHARE = 0.01  # the three highest hold less than this share of rows: a count's thin tail


def _count_like(present: pd.Series) -> str | None:
    """How whole numbers read as a count, not class codes, or None: more than ten of them in one
    unbroken run with a thin top (visits 0..19, the last three on 9 of 3,000 rows). As 20 classes
    the rarest were too few to learn or judge, and every near miss counted as wrong as a far one."""
    counts = present.value_counts().sort_index()
    low, high = int(counts.index.min()), int(counts.index.max())
    if len(counts) < COUNT_MIN_VALUES or high - low + 1 != len(counts):
        return None
    top = counts.iloc[-3:].sum() / counts.sum()
    if top >= COUNT_TAIL_SHARE:
        return None
    return f"run {low}..{high} and thin out (the three highest on {top:.1%} of rows): a count"


def check_amounts(values: pd.Series, where: str = "data") -> None:
    """Refuse a text target of numbers written with a currency sign or thousands marks ('$16,884.92'):
    read as text, each amount is a class of its own (1,338 insurance charges, 1,338 classes)."""
    example = numbers_as_text(values, f"{UNIT_SIGNS}|{THOUSANDS_MARKS}")
    if example is not None:
        raise TargetError(
            f"{where}: target '{values.name}' holds numbers written as text ({example!r}), each amount a class of "
            f"its own: write the column as plain numbers ({plain_number(example)}) to predict it as a quantity "
            "(a CSV source reads thousands marks with data.source.thousands, never a currency or percent sign)"
        )


def check_class_rows(values: pd.Series, where: str = "data") -> None:
    """Refuse a class target where most classes hold a row or two: no holdout can judge them, and an
    amount, an id or free text read as classes gives every row one (the training split then fails)."""
    present = values.dropna()
    counts = present.value_counts()
    lone = counts[counts <= LONE_CLASS_ROWS]
    if len(counts) > MAX_INFERRED_CLASSES and len(lone) > len(counts) / 2:
        example = native(present[present.isin(lone.index)].iloc[0])  # the first in the file, not a tie's pick
        raise TargetError(
            f"{where}: target '{values.name}' holds {len(counts):,} classes, {len(lone):,} of them on "
            f"{LONE_CLASS_ROWS} rows or fewer (e.g. {example!r}): too many to learn or judge "
            f"(more than {MAX_INFERRED_CLASSES}, most that rare); if it is a quantity write it as plain numbers "
            "(regression), if an id or free text choose another target, else merge its values into fewer classes"
        )


def check_label_columns(columns: Iterable[str], config: Config, where: str) -> None:
    """A label source without the key or the target column is an error naming what it has."""
    columns = list(columns)
    id_column, target = config.data.id_column, config.data.target.column
    keyed_by = [id_column] if id_column else list(config.data.features.columns)
    missing = [c for c in (*keyed_by, target) if c not in columns]
    if missing:
        how = "" if id_column else " (no id column: labels must come in the scored rows, with their feature values)"
        raise DataSourceError(f"{where}: labels need columns {missing}{how} (found {sorted(columns)[:12]})")
