"""Per-partition aggregates of a window for the data contract, and how two of them merge (in row order).

``validation_partitioned`` turns the merged aggregates into ``validate_frame``'s report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.core import validation as memory
from perennial.core.contract import ColumnSpec, SuiteSpec, utc_times
from perennial.core.partition_quantiles import Span
from perennial.core.validation_gx import ColumnCheck
from perennial.core.validation_units import measured_in_units
from perennial.core.validation_vectorised import PARTIAL, passing

EXAMPLES = 1000  # values kept for a type failure's examples (``validation._examples`` reads the first 1,000)


@dataclass(frozen=True, slots=True, eq=False)
class HashCounts:
    """Each value's 64-bit hash, once, and how often the repeated ones occur: uniqueness, mergeable.

    Only repeats carry a count: a window's ids are mostly distinct, so a merge holds 8 bytes per id
    (160 MB at 20M rows) and about as much again while merging: it fits a Dask worker under a 4 GB cap.
    """

    hashes: np.ndarray  # uint64, ascending, distinct
    repeated: np.ndarray  # uint64, ascending: the hashes seen more than once
    repeats: np.ndarray  # int64: how often each of ``repeated`` was seen

    @classmethod
    def of(cls, values: pd.Series) -> HashCounts:
        hashes, counts = np.unique(hash_values(values), return_counts=True)
        many = counts > 1
        return cls(hashes, hashes[many], counts[many].astype(np.int64))

    def merge(self, other: HashCounts) -> HashCounts:
        both = np.concatenate((self.hashes, other.hashes))
        both.sort(kind="stable")  # two ascending runs: timsort merges them in one linear pass
        first = np.empty(both.size, dtype=bool)
        first[:1] = True
        np.not_equal(both[1:], both[:-1], out=first[1:])
        shared = both[1:][~first[1:]]  # on both sides (each side's hashes are distinct)
        hashes = both[first]
        del both, first  # peak: ~2.2x the merged hashes (324 MB for two 10M-id halves; np.unique took 680)
        repeated = np.union1d(np.union1d(self.repeated, other.repeated), shared)
        return HashCounts(hashes, repeated, self.count(repeated) + other.count(repeated))

    def count(self, hashes: np.ndarray) -> np.ndarray:
        """How often each of ``hashes`` (ascending) was seen: 0, 1, or its repeats."""
        seen = _members(self.hashes, hashes).astype(np.int64)
        many = _members(self.repeated, hashes)
        seen[many] = self.repeats[np.searchsorted(self.repeated, hashes[many])]
        return seen

    def duplicated_rows(self) -> int:
        return int(self.repeats.sum())


def _members(sorted_values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    at = np.searchsorted(sorted_values, wanted)
    inside = at < sorted_values.size
    inside[inside] = sorted_values[at[inside]] == wanted[inside]
    return inside


@dataclass(frozen=True, slots=True)
class ColumnPart:
    rows: int
    nulls: int
    dtype: Any
    kinds: frozenset[str]  # infer_dtype of the non-empty partitions (object columns)
    present: tuple[Any, ...]  # first non-null values, up to EXAMPLES
    distinct: tuple[Any, ...]  # first two distinct non-null values
    span: Span | None  # numeric columns: count, min, max of the non-null values
    bad: int  # values failing the column's range / value-set check
    offending: tuple[Any, ...]  # the first PARTIAL of them
    error: str | None  # the check's comparison raised
    hashes: HashCounts | None  # id columns
    unparsed: int  # datetime columns: values that are not timestamps
    unparsed_values: tuple[Any, ...]
    newest: pd.Timestamp | None
    oldest: pd.Timestamp | None

    def merge(self, other: ColumnPart) -> ColumnPart:
        return ColumnPart(
            self.rows + other.rows,
            self.nulls + other.nulls,
            self.dtype if self.rows or not other.rows else other.dtype,
            self.kinds | other.kinds,
            (self.present + other.present)[:EXAMPLES],
            tuple(dict.fromkeys(self.distinct + other.distinct))[:2],
            _merge_spans(self.span, other.span),
            self.bad + other.bad,
            (self.offending + other.offending)[:PARTIAL],
            self.error or other.error,
            None if self.hashes is None or other.hashes is None else self.hashes.merge(other.hashes),
            self.unparsed + other.unparsed,
            (self.unparsed_values + other.unparsed_values)[:EXAMPLES],
            _extreme(max, self.newest, other.newest),
            _extreme(min, self.oldest, other.oldest),
        )


@dataclass(frozen=True, slots=True)
class WindowParts:
    rows: int
    columns: tuple[str, ...]  # the first partition's (a partitioned source has one schema)
    parts: Mapping[str, ColumnPart]

    def merge(self, other: WindowParts) -> WindowParts:
        parts = {n: p.merge(other.parts[n]) for n, p in self.parts.items()}
        return WindowParts(self.rows + other.rows, self.columns or other.columns, parts)


def summarise_partition(frame: pd.DataFrame, suite: SuiteSpec) -> WindowParts:
    """One partition's aggregates for every contract column it holds (pure: run it where the partition is)."""
    parts = {spec.name: _column_part(frame[spec.name], spec, suite) for spec in suite.columns if spec.name in frame}
    return WindowParts(len(frame), tuple(str(c) for c in frame.columns), parts)


def value_check(spec: ColumnSpec, suite: SuiteSpec) -> ColumnCheck | None:
    """The first of ``validation.value_checks``: a column's checks share its value set or range, so
    one count of offending values per partition serves them all."""
    checks = memory.value_checks(spec, suite)
    return checks[0] if checks else None


def _column_part(values: pd.Series, spec: ColumnSpec, suite: SuiteSpec) -> ColumnPart:
    nulls = values.isna().to_numpy()
    null_count = int(nulls.sum())
    present = values[~nulls] if null_count else values  # no copy when nothing is null
    inferred = pd.api.types.infer_dtype(values, skipna=True) if pd.api.types.is_object_dtype(values.dtype) else ""
    check = value_check(spec, suite)
    bad, offending, error = 0, (), None
    if check is not None and check.expect != "unique":
        try:
            ok = passing(present, check)
            bad, offending = int(len(ok) - ok.sum()), tuple(present[~ok].head(PARTIAL).tolist())
        except TypeError as exc:  # as the vectorised engine reports it
            error = str(exc).splitlines()[0][:200]
    times = utc_times(values) if spec.kind == "datetime" else None
    unparsed = times.isna() & values.notna() if times is not None else None
    valid = times.dropna() if times is not None else None
    return ColumnPart(
        rows=len(values),
        nulls=null_count,
        dtype=values.dtype,
        kinds=frozenset([inferred]) if inferred and len(present) else frozenset(),
        present=tuple(present.head(EXAMPLES).to_numpy(dtype=object)),
        distinct=_first_two(present) if spec.variation is not None else (),
        span=_span(present) if measured_in_units(spec, suite) and pd.api.types.is_numeric_dtype(values.dtype) else None,
        bad=bad,
        offending=offending,
        error=error,
        hashes=HashCounts.of(present) if spec.kind == "id" else None,
        unparsed=int(unparsed.sum()) if unparsed is not None else 0,
        unparsed_values=tuple(values[unparsed].head(EXAMPLES).to_numpy(dtype=object)) if unparsed is not None else (),
        newest=valid.max() if valid is not None and len(valid) else None,
        oldest=valid.min() if valid is not None and len(valid) else None,
    )


def _first_two(present: pd.Series) -> tuple[Any, ...]:
    """The first two distinct values in row order (``pd.unique(...)[:2]`` without hashing every value)."""
    values = present.to_numpy()
    if not len(values):
        return ()
    other = np.flatnonzero(values != values[0])
    chosen = values[[0, other[0]]] if other.size else values[:1]
    return tuple(chosen.astype(object))


def hash_values(values: pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(values, index=False).to_numpy()


def _span(present: pd.Series) -> Span | None:
    finite = present.to_numpy(dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not len(present):
        return None
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return Span(len(present), low, high)


def _merge_spans(left: Span | None, right: Span | None) -> Span | None:
    if left is None or right is None:
        return left or right
    return Span(left.count + right.count, min(left.low, right.low), max(left.high, right.high))


def _extreme(pick: Any, left: pd.Timestamp | None, right: pd.Timestamp | None) -> pd.Timestamp | None:
    if left is None or right is None:
        return left if right is None else right
    chosen: pd.Timestamp = pick(left, right)
    return chosen
