"""Drift over partitions: the in-memory engine's verdicts, its statistics within the documented bound."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from perennial.core.drift import DriftReport, ReferenceStats, build_reference, detect_drift
from perennial.core.drift.partitioned import (
    Grids,
    detect_drift_partitioned,
    merge_sketches,
    sketch_partition,
    wasserstein_error,
)
from perennial.core.partitions import over_frames, split_frame
from tests.conftest import make_flights

NUMERIC, CATEGORICAL = ["distance", "temp", "delayed"], ["carrier", "origin"]


def reference_of(rows: int) -> ReferenceStats:
    frame = make_flights(rows, seed=1)
    frame["distance"] = frame["distance"].round()  # miles are whole: ties, and more distinct values than the grid
    return build_reference(frame, NUMERIC, CATEGORICAL)


def window(rows: int, seed: int = 2, shift: float = 0.0, new_carrier: int = 0) -> pd.DataFrame:
    frame = make_flights(rows, seed=seed)
    frame["distance"] = frame["distance"].round()
    frame["temp"] += shift
    frame.loc[frame.index[:new_carrier], "carrier"] = "ZZ"
    return frame


def verdicts(report: DriftReport) -> tuple[object, ...]:
    return (report.dataset_drift, report.rows_current, *((c.column, c.test, c.drifted) for c in report.columns))


def assert_parity(reference: ReferenceStats, current: pd.DataFrame, parts: int) -> DriftReport:
    in_memory = detect_drift(reference, current)
    partitions = split_frame(current, parts)
    partitioned = detect_drift_partitioned(reference, over_frames(partitions))
    assert verdicts(partitioned) == verdicts(in_memory)
    grids = Grids.of(reference)
    sketch = functools.reduce(merge_sketches, (sketch_partition(reference, grids, p) for p in partitions))
    for exact, merged in zip(in_memory.columns, partitioned.columns, strict=True):
        if exact.test == "wasserstein":
            bound = wasserstein_error(
                reference.numeric[exact.column], grids.columns[exact.column], sketch.numeric[exact.column]
            )
            assert abs(merged.statistic - exact.statistic) <= bound + 1e-12, exact.column
        else:  # counts and K-S are kept exactly
            assert merged.statistic == pytest.approx(exact.statistic, rel=1e-12, abs=1e-15), exact.column
    return partitioned


@pytest.mark.parametrize(("reference_rows", "window_rows"), [(3000, 4000), (800, 700), (800, 12000)])
def test_no_drift_gives_the_in_memory_verdicts(reference_rows: int, window_rows: int) -> None:
    # given a reference and a window drawn alike (800 rows: K-S and chi-square; 3000: distances), in 5 partitions
    reference = reference_of(reference_rows)
    # when / then
    report = assert_parity(reference, window(window_rows), parts=5)
    assert not report.dataset_drift


@pytest.mark.parametrize("reference_rows", [3000, 800])
def test_clear_drift_in_one_numeric_gives_the_in_memory_verdicts(reference_rows: int) -> None:
    # given a window whose temperature moved by two of its std
    reference = reference_of(reference_rows)
    # when / then
    report = assert_parity(reference, window(5000, shift=30), parts=4)
    assert "temp" in report.drifted_columns  # chi-square on 800 reference rows may flag the categories too


@pytest.mark.parametrize("reference_rows", [3000, 800])
def test_a_new_category_gives_the_in_memory_verdicts(reference_rows: int) -> None:
    # given a window where a tenth of the flights have a carrier the reference never saw
    reference = reference_of(reference_rows)
    # when / then
    report = assert_parity(reference, window(3000, new_carrier=300), parts=3)
    assert "carrier" in report.drifted_columns


def test_a_drifted_window_and_a_steady_one_do_not_compare_equal() -> None:
    # given the same reference and two windows, one moved
    reference = reference_of(3000)
    # when
    steady = detect_drift(reference, window(4000))
    moved = detect_drift_partitioned(reference, over_frames(split_frame(window(4000, shift=30), 4)))
    # then the comparison the parity tests rely on can fail
    assert verdicts(moved) != verdicts(steady)


def test_empty_partitions_and_nulls_change_nothing() -> None:
    # given a window with nulls and infinities, split so that some partitions are empty
    current = window(2000)
    current.loc[current.index[::7], "temp"] = np.nan
    current.loc[current.index[::11], "distance"] = np.inf
    current.loc[current.index[::13], "carrier"] = None
    parts = [current.iloc[:0], *split_frame(current, 3), current.iloc[:0]]
    reference = reference_of(3000)
    # when
    partitioned = detect_drift_partitioned(reference, over_frames(parts))
    # then
    assert verdicts(partitioned) == verdicts(detect_drift(reference, current))


def test_few_valued_numeric_columns_are_counted_until_a_partition_adds_values() -> None:
    # given a reference of 0-2 stops, a window that stays in them and one whose later partition adds 3-5
    reference = build_reference(pd.DataFrame({"stops": [0, 1, 2] * 500}), ["stops"], [])
    same = pd.DataFrame({"stops": [0, 1, 2, 2] * 10})
    more = pd.DataFrame({"stops": [0, 1, 2, 2] * 10 + [3, 4, 5]})
    # when
    counted = detect_drift_partitioned(reference, over_frames(split_frame(same, 2)))
    sampled = detect_drift_partitioned(reference, over_frames(split_frame(more, 2)))
    # then
    assert (counted.columns[0].test, sampled.columns[0].test) == ("jensenshannon", "wasserstein")
    assert counted.columns[0].statistic == pytest.approx(detect_drift(reference, same).columns[0].statistic)
    assert sampled.columns[0].statistic == pytest.approx(detect_drift(reference, more).columns[0].statistic)


def test_a_column_with_no_value_in_any_partition_is_the_same_error() -> None:
    # given a window whose temperature is null in every partition
    current = window(100)
    current["temp"] = np.nan
    reference = reference_of(3000)
    # when / then
    with pytest.raises(ValueError, match="'temp' has no finite values in the current window"):
        detect_drift(reference, current)
    with pytest.raises(ValueError, match="'temp' has no finite values in the current window"):
        detect_drift_partitioned(reference, over_frames(split_frame(current, 2)))
