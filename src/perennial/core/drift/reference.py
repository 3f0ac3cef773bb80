"""Reference statistics: built once per champion, stored beside it, read by every window.

What is kept, and why:

- A numeric column keeps its **exact sorted float64 values** (as unique values with counts when that is
  smaller). Evidently's default test for a large reference is the Wasserstein distance between the two
  *empirical* distributions, an integral over every reference value: a histogram or a quantile summary moves
  it by up to the summary's own Wasserstein error (about bin width / 4 — far above 1e-6 of a std in the
  tails). float32 is not enough either: its rounding (6e-8 relative to the *value*) becomes 6e-5 of a std
  for a column whose mean is 1000 std away from zero (prices, timestamps), so float64 it is. The cost is
  8 bytes a reference row (1M rows x 15 columns = 120 MB), paid once when the champion is registered.
- A categorical column keeps its category counts.

Like Evidently, nulls and +-inf are dropped before anything is counted; a column with nothing left cannot be
a reference and is an error. ``to_bytes``/``from_bytes`` write an ``.npz`` (no pickle) so the caller can log it
as an MLflow artifact next to the model.
"""

from __future__ import annotations

import io
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, eq=False)
class NumericReference:
    values: np.ndarray  # sorted finite float64; unique when `counts` is set
    counts: np.ndarray | None  # multiplicity of each value (int64); None = every value once
    rows: int  # finite values in the reference column
    n_unique: int
    std: float  # population std (ddof=0) of the finite values, as Evidently norms Wasserstein by

    def value_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct values (ascending) and how often each occurs."""
        if self.counts is not None:
            return self.values, self.counts
        return runs(self.values)

    def expanded(self) -> np.ndarray:
        """Every reference value, sorted (for tests that need the raw sample)."""
        return self.values if self.counts is None else np.repeat(self.values, self.counts)


@dataclass(frozen=True, slots=True, eq=False)
class CategoricalReference:
    labels: tuple[Any, ...]  # str, bool, int or float labels, as found in the frame
    counts: np.ndarray  # int64, one per label
    rows: int  # non-null values in the reference column


@dataclass(frozen=True, slots=True, eq=False)
class ReferenceStats:
    numeric: Mapping[str, NumericReference]
    categorical: Mapping[str, CategoricalReference]
    rows: int  # rows of the reference frame, nulls included

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)

    def nbytes(self) -> int:
        arrays = [r.values for r in self.numeric.values()] + [r.counts for r in self.numeric.values()]
        arrays += [r.counts for r in self.categorical.values()]
        return sum(a.nbytes for a in arrays if a is not None)

    def to_bytes(self) -> bytes:
        """An ``.npz`` archive: arrays by column index, names and scalars in a JSON header."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "rows": self.rows, "numeric": [], "categorical": []}
        for i, (name, ref) in enumerate(self.numeric.items()):
            meta["numeric"].append({"name": name, "rows": ref.rows, "n_unique": ref.n_unique, "std": ref.std})
            arrays[f"num{i}_values"] = ref.values
            if ref.counts is not None:
                arrays[f"num{i}_counts"] = ref.counts
        for i, (name, cat) in enumerate(self.categorical.items()):
            meta["categorical"].append({"name": name, "rows": cat.rows})
            arrays[f"cat{i}_labels"] = _label_array(name, cat.labels)
            arrays[f"cat{i}_counts"] = cat.counts
        buffer = io.BytesIO()
        # numpy's stubs type **kwds like the named allow_pickle flag (bool), so arrays by keyword fail to check
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceStats:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"reference stats format {meta.get('format')!r} is not {FORMAT_VERSION}")
            numeric = {
                m["name"]: NumericReference(
                    values=npz[f"num{i}_values"],
                    counts=npz[f"num{i}_counts"] if f"num{i}_counts" in npz.files else None,
                    rows=m["rows"],
                    n_unique=m["n_unique"],
                    std=m["std"],
                )
                for i, m in enumerate(meta["numeric"])
            }
            categorical = {
                m["name"]: CategoricalReference(
                    labels=tuple(npz[f"cat{i}_labels"].tolist()), counts=npz[f"cat{i}_counts"], rows=m["rows"]
                )
                for i, m in enumerate(meta["categorical"])
            }
        return cls(numeric=numeric, categorical=categorical, rows=int(meta["rows"]))


def build_reference(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> ReferenceStats:
    """Summarise the champion's reference frame once; ``detect_drift`` then reads only the window."""
    missing = [c for c in (*numeric, *categorical) if c not in frame.columns]
    if missing:
        raise ValueError(f"reference frame has no column(s) {missing}")
    repeated = sorted(set(numeric) & set(categorical))
    if repeated:
        raise ValueError(f"column(s) {repeated} listed as both numeric and categorical")
    return ReferenceStats(
        numeric={c: _numeric_reference(c, frame[c]) for c in numeric},
        categorical={c: _categorical_reference(c, frame[c]) for c in categorical},
        rows=len(frame),
    )


def finite_sorted(name: str, series: pd.Series, role: str) -> np.ndarray:
    """The column's finite values as sorted float64 (nulls and +-inf dropped, as Evidently does)."""
    values = np.sort(_as_float(name, series, role))  # NaN sorts last
    lo, hi = np.searchsorted(values, -np.inf, side="right"), np.searchsorted(values, np.inf, side="left")
    if hi <= lo:
        raise ValueError(f"column {name!r} has no finite values in the {role}")
    return values[lo:hi]


def finite_count(name: str, series: pd.Series, role: str) -> int:
    return int(np.count_nonzero(np.isfinite(_as_float(name, series, role))))


def _as_float(name: str, series: pd.Series, role: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(series):
        raise ValueError(f"numeric column {name!r} in the {role} has dtype {series.dtype}, not a number type")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and their counts, without another sort."""
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(starts, sorted_values.size))
    return sorted_values[starts], counts.astype(np.int64)


def category_counts(name: str, series: pd.Series, role: str) -> dict[Any, int]:
    """Counts of each present value; nulls and +-inf dropped as Evidently does."""
    counts = series.value_counts(dropna=True, sort=False)
    result = {
        label: int(n)
        for label, n in zip(counts.index.tolist(), counts.to_numpy(), strict=True)
        if n > 0 and not (isinstance(label, float) and np.isinf(label))
    }
    if not result:
        raise ValueError(f"column {name!r} has no non-null values in the {role}")
    return result


def _numeric_reference(name: str, series: pd.Series) -> NumericReference:
    values = finite_sorted(name, series, "reference")
    uniques, counts = runs(values)
    compress = uniques.size <= values.size // 2  # unique+counts costs 16 bytes a value: only when it halves
    return NumericReference(
        values=uniques if compress else values,
        counts=counts if compress else None,
        rows=int(values.size),
        n_unique=int(uniques.size),
        std=float(np.std(values)),
    )


def _categorical_reference(name: str, series: pd.Series) -> CategoricalReference:
    counts = category_counts(name, series, "reference")
    labels = tuple(_plain(v) for v in counts)
    _label_array(name, labels)  # fail now, not when the artifact is written
    return CategoricalReference(labels=labels, counts=np.fromiter(counts.values(), np.int64), rows=sum(counts.values()))


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones, so labels compare and serialise the same after a round trip."""
    return value.item() if isinstance(value, np.generic) else value


def _label_array(name: str, labels: Sequence[Any]) -> np.ndarray:
    """Labels as a typed array (no pickle): one type per column, or the round trip would change them."""
    if all(isinstance(v, str) for v in labels):
        return np.array(labels, dtype=str)
    if all(isinstance(v, bool) for v in labels):
        return np.array(labels, dtype=bool)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in labels):
        return np.array(labels, dtype=np.int64)
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in labels):
        return np.array(labels, dtype=np.float64)
    kinds = sorted({type(v).__name__ for v in labels})
    raise ValueError(f"categorical column {name!r} holds values of types {kinds}: cast it to str, bool, int or float")
