"""Quantiles over partitions are pandas' own, to the last bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.core.partition_quantiles import Span, exact_quantiles
from perennial.core.partitions import Reduce, over_frames, split_frame

QUARTILES = [0.25, 0.5, 0.75]


def column(kind: str, rows: int) -> pd.Series:
    rng = np.random.default_rng(rows)
    values = {
        "normal": rng.normal(50, 15, rows),
        "few integers": rng.integers(0, 7, rows).astype(float),
        "one value": np.full(rows, 3.0),
        "heavy tail": rng.pareto(1.5, rows) * 1e6,
        "one value and a few outliers": np.where(rng.uniform(size=rows) < 0.01, rng.normal(0, 1e9, rows), 7.0),
        "with infinities": np.where(rng.uniform(size=rows) < 0.05, np.inf, rng.normal(0, 1, rows)),
    }[kind]
    series = pd.Series(values)
    series[::9] = np.nan
    return series


KINDS = ["normal", "few integers", "one value", "heavy tail", "one value and a few outliers", "with infinities"]


def span_of(series: pd.Series) -> Span:
    present = series.dropna()
    finite = present[np.isfinite(present)]
    return Span(len(present), float(finite.min()), float(finite.max()))


def counted_passes(series: pd.Series) -> tuple[Reduce, list[int]]:
    """A reduce over ``series`` in 4 partitions, and the list it appends to at each pass."""
    passes: list[int] = []
    inner = over_frames(split_frame(series.to_frame("x"), 4))

    def counting(summarise, merge, columns=None):  # type: ignore[no-untyped-def]
        passes.append(1)
        return inner(summarise, merge, columns)

    return counting, passes


@pytest.mark.parametrize("rows", [30, 31, 1000, 12345])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [1_000_000, 5])
def test_quartiles_and_median_equal_pandas(kind: str, rows: int, limit: int) -> None:
    # given a column with nulls, in 4 partitions (limit 5: every bin holding a rank is split until small)
    series = column(kind, rows)
    present = series.dropna()
    reduce = over_frames(split_frame(series.to_frame("x"), 4))
    # when
    quartiles, median = exact_quantiles(reduce, {"x": span_of(series)}, QUARTILES, limit=limit)["x"]
    # then
    assert quartiles.tolist() == present.quantile(QUARTILES).tolist()
    assert median == float(present.median())


def test_skewed_data_is_fetched_in_small_bins_over_more_passes() -> None:
    # given a column where 99% of the values sit in one bin of its range
    series = column("one value and a few outliers", 12345) + np.linspace(0, 1e-3, 12345)
    counting, passes = counted_passes(series)
    # when a bin may hold 100 values at most
    quartiles, _ = exact_quantiles(counting, {"x": span_of(series)}, QUARTILES, limit=100)["x"]
    # then the answer is pandas' all the same, after more than the two passes of unskewed data
    assert quartiles.tolist() == series.dropna().quantile(QUARTILES).tolist()
    assert len(passes) > 2


def test_a_bin_holding_one_value_is_fetched_without_splitting_it() -> None:
    # given a column where most values are one reading (visibility: 10 miles), and a few others spread out
    series = pd.Series(np.r_[np.full(5000, 10.0), np.linspace(0, 9.9, 300)])
    counting, passes = counted_passes(series)
    # when a bin may hold 100 values at most
    quartiles, median = exact_quantiles(counting, {"x": span_of(series)}, QUARTILES, limit=100)["x"]
    # then the answer is pandas' after one histogram and one fetch: the full bin holds a single value
    assert quartiles.tolist() == series.quantile(QUARTILES).tolist() and median == series.median()
    assert len(passes) == 2


def test_a_different_column_gives_different_quartiles() -> None:
    # given two columns, the second shifted
    frame = pd.DataFrame({"a": column("normal", 1000), "b": column("normal", 1000) + 1})
    spans = {c: Span(int(frame[c].count()), float(frame[c].min()), float(frame[c].max())) for c in frame}
    # when
    found = exact_quantiles(over_frames(split_frame(frame, 3)), spans, QUARTILES)
    # then the comparison above can fail
    assert found["a"][0].tolist() != frame["b"].dropna().quantile(QUARTILES).tolist()
    assert found["b"][0].tolist() == frame["b"].dropna().quantile(QUARTILES).tolist()
