"""Quantiles over partitions are pandas' own, to the last bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.core.partition_quantiles import Span, exact_quantiles
from perennial.core.partitions import over_frames, split_frame

QUARTILES = [0.25, 0.5, 0.75]


def column(kind: str, rows: int) -> pd.Series:
    rng = np.random.default_rng(rows)
    values = {
        "normal": rng.normal(50, 15, rows),
        "few integers": rng.integers(0, 7, rows).astype(float),
        "one value": np.full(rows, 3.0),
        "heavy tail": rng.pareto(1.5, rows) * 1e6,
    }[kind]
    series = pd.Series(values)
    series[::9] = np.nan
    return series


@pytest.mark.parametrize("rows", [30, 31, 1000, 12345])
@pytest.mark.parametrize("kind", ["normal", "few integers", "one value", "heavy tail"])
def test_quartiles_and_median_equal_pandas(kind: str, rows: int) -> None:
    # given a column with nulls, in 4 partitions
    series = column(kind, rows)
    present = series.dropna()
    span = Span(len(present), float(present.min()), float(present.max()))
    # when
    quartiles, median = exact_quantiles(over_frames(split_frame(series.to_frame("x"), 4)), {"x": span}, QUARTILES)["x"]
    # then
    assert quartiles.tolist() == present.quantile(QUARTILES).tolist()
    assert median == float(present.median())


def test_a_different_column_gives_different_quartiles() -> None:
    # given two columns, the second shifted
    frame = pd.DataFrame({"a": column("normal", 1000), "b": column("normal", 1000) + 1})
    spans = {c: Span(int(frame[c].count()), float(frame[c].min()), float(frame[c].max())) for c in frame}
    # when
    found = exact_quantiles(over_frames(split_frame(frame, 3)), spans, QUARTILES)
    # then the comparison above can fail
    assert found["a"][0].tolist() != frame["b"].dropna().quantile(QUARTILES).tolist()
    assert found["b"][0].tolist() == frame["b"].dropna().quantile(QUARTILES).tolist()
