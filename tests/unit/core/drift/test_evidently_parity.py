"""Parity with Evidently 0.7's DataDriftPreset: per column the same test, the same verdict, the statistic
within 1e-6, and the same dataset verdict — on both sides of the 1000-row reference limit.

Each case runs Evidently itself (a few tenths of a second on these sizes); the whole file stays well under
a minute.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from perennial.core.drift import DriftReport, ReferenceStats, build_reference, detect_drift
from perennial.core.drift.evidently_report import render_report, run_preset, summarise

NUMERIC = ["x", "y", "r", "k", "flag"]
CATEGORICAL = ["color", "code", "member"]
COLORS = np.array(["red", "green", "blue", "amber"], dtype=object)


def make(rows: int, seed: int, **changes: Callable[[pd.DataFrame, np.random.Generator], None]) -> pd.DataFrame:
    """x normal, y skewed, r rounded (many ties), k 0..3 (few values), flag 0/1; three categorical columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(10, 2, rows),
            "y": rng.lognormal(0, 0.7, rows),
            "r": rng.normal(1000, 1, rows).round(1),
            "k": rng.integers(0, 4, rows),
            "flag": (rng.uniform(size=rows) < 0.3).astype("int64"),
            "color": rng.choice(COLORS, rows, p=[0.4, 0.3, 0.2, 0.1]),
            "code": rng.integers(0, 10, rows),
            "member": rng.uniform(size=rows) < 0.6,
        }
    )
    for change in changes.values():
        change(frame, rng)
    return frame


def mean_shift(f: pd.DataFrame, rng: np.random.Generator) -> None:
    f["x"] += 0.6
    f["r"] += 0.3


def variance_change(f: pd.DataFrame, rng: np.random.Generator) -> None:
    f["x"] = 10 + (f["x"] - 10) * 2.5
    f["y"] = f["y"] ** 1.5


def new_category(f: pd.DataFrame, rng: np.random.Generator) -> None:
    new = rng.uniform(size=len(f)) < 0.25
    f.loc[new, "color"] = "purple"
    f.loc[new, "code"] = 11


def category_mix(f: pd.DataFrame, rng: np.random.Generator) -> None:
    f["color"] = rng.choice(COLORS, len(f), p=[0.1, 0.2, 0.3, 0.4])
    f["member"] = rng.uniform(size=len(f)) < 0.3
    f["flag"] = (rng.uniform(size=len(f)) < 0.5).astype("int64")


def nulls(f: pd.DataFrame, rng: np.random.Generator) -> None:
    for column, share in (("x", 0.1), ("r", 0.03), ("k", 0.2), ("color", 0.15), ("code", 0.05)):
        f.loc[rng.uniform(size=len(f)) < share, column] = None
    f.loc[f.index[:3], "x"] = [np.inf, -np.inf, np.inf]  # with nulls present Evidently drops +-inf too


def constant(f: pd.DataFrame, rng: np.random.Generator) -> None:
    f["x"] = 5.0
    f["color"] = "red"
    f["flag"] = 1


def more_values(f: pd.DataFrame, rng: np.random.Generator) -> None:
    f["k"] = rng.integers(0, 9, len(f))  # 4 values in the reference, 9 here: no longer "few values"
    f["flag"] = rng.integers(0, 3, len(f))  # 2 -> 3 values: Z-test becomes chi-square


# case: (changes to the reference, changes to the window)
CASES = {
    "no drift": ({}, {}),
    "mean shift": ({}, {"shift": mean_shift}),
    "variance change": ({}, {"variance": variance_change}),
    "new category": ({}, {"new": new_category}),
    "category mix change": ({}, {"mix": category_mix}),
    "nulls": ({"nulls": nulls}, {"nulls": nulls}),
    "constant window": ({}, {"constant": constant}),
    "constant reference": ({"constant": constant}, {}),
    "constant both": ({"constant": constant}, {"constant": constant}),
    "more distinct values": ({}, {"values": more_values}),
    "everything drifts": (
        {},
        {"shift": mean_shift, "variance": variance_change, "mix": category_mix, "new": new_category},
    ),
}


def assert_parity(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric=NUMERIC,
    categorical=CATEGORICAL,
    share_threshold: float = 0.5,
    dataset_level: bool = True,
) -> DriftReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's own divide-by-zero on new categories
        evidently = summarise(run_preset(reference, current, numeric, categorical, drift_share=share_threshold))
    stats = build_reference(reference, numeric, categorical)
    ours = detect_drift(ReferenceStats.from_bytes(stats.to_bytes()), current, share_threshold)
    assert [c.column for c in ours.columns] == [*numeric, *categorical]
    for column in ours.columns:
        theirs = evidently["columns"][column.column]
        verdict = (column.column, column.test, column.evidently_drifted)
        assert verdict == (column.column, theirs["test"], theirs["drifted"])
        assert column.threshold == theirs["threshold"]
        assert column.statistic == pytest.approx(theirs["statistic"], abs=1e-6, nan_ok=True), column
    if dataset_level:  # Evidently's share counts its verdicts, before sampling noise is weighed
        share = sum(c.evidently_drifted for c in ours.columns) / len(ours.columns)
        assert share == pytest.approx(evidently["drift_share"], abs=1e-12)
        assert (share >= share_threshold) == evidently["dataset_drift"]
    return ours


@pytest.mark.parametrize("reference_rows", [600, 3000], ids=["small reference", "large reference"])
@pytest.mark.parametrize("case", list(CASES))
def test_same_tests_statistics_and_verdicts(case: str, reference_rows: int) -> None:
    # given a reference and a window drawn apart (the window 40% the reference's size)
    reference_changes, window_changes = CASES[case]
    reference = make(reference_rows, seed=1, **reference_changes)
    current = make(int(reference_rows * 0.4), seed=2, **window_changes)
    # when / then
    assert_parity(reference, current)


@pytest.mark.parametrize("window_rows", [1, 2, 5])
@pytest.mark.parametrize("reference_rows", [600, 3000], ids=["small reference", "large reference"])
def test_tiny_windows(window_rows: int, reference_rows: int) -> None:
    assert_parity(make(reference_rows, seed=1), make(window_rows, seed=3, shift=mean_shift))


def test_each_column_picks_its_test_by_its_own_non_null_rows() -> None:
    # given 1010 rows where x has 10 nulls: 1000 usable values is a "small" reference for x alone
    reference = make(1010, seed=1)
    reference.loc[reference.index[:10], "x"] = np.nan
    # when
    report = assert_parity(reference, make(700, seed=2, shift=mean_shift))
    # then
    tests = {c.column: c.test for c in report.columns}
    assert tests["x"] == "ks" and tests["y"] == "wasserstein"


def test_dataset_drift_when_the_share_reaches_the_threshold_exactly() -> None:
    # given two drifted columns of four
    reference, current = make(3000, seed=1), make(1500, seed=2, shift=mean_shift, new=new_category)
    # when
    report = assert_parity(reference, current, numeric=["x", "y"], categorical=["color", "member"])
    # then
    assert report.drift_share == 0.5 and report.dataset_drift


def test_a_custom_share_threshold() -> None:
    reference, current = make(3000, seed=1), make(1500, seed=2, shift=mean_shift)
    assert_parity(reference, current, share_threshold=0.2)


def test_a_larger_window_than_reference_and_a_categorical_dtype() -> None:
    reference = make(20_000, seed=1)
    current = make(50_000, seed=2, variance=variance_change)
    current["color"] = current["color"].astype("category")
    assert_parity(reference, current)


def test_infinities_in_a_column_without_nulls_count_as_evidentlys_column_verdict_says() -> None:
    # given a window whose drifted column holds +inf but no null
    reference, current = make(3000, seed=1), make(1500, seed=2, shift=mean_shift)
    current.loc[current.index[:5], "x"] = np.inf
    # when
    report = assert_parity(reference, current, numeric=["x", "y"], categorical=[], dataset_level=False)
    # then every column verdict matches Evidently's (it drops +-inf, as the engine does), and the share counts
    # them. Evidently's own DriftedColumnsCount keeps +-inf in a column without nulls, gets NaN and does not
    # count the column: its share (0.0 here) disagrees with its own column verdicts.
    assert report.drifted_columns == ("x",) and report.drift_share == 0.5


def test_evidentlys_preset_defaults_are_the_engines() -> None:
    from evidently.presets import DataDriftPreset

    assert DataDriftPreset().drift_share == 0.5


def test_the_sampled_html_report_uses_the_engines_tests() -> None:
    # given the engine's verdicts on a 3000-row reference
    reference, current = make(3000, seed=1), make(2000, seed=2, shift=mean_shift)
    report = detect_drift(build_reference(reference, NUMERIC, CATEGORICAL), current)
    # when rendering on 500 rows, where Evidently alone would switch to p-value tests
    html, summary = render_report(
        reference, current, NUMERIC, CATEGORICAL, max_rows=500, tests={c.column: c.test for c in report.columns}
    )
    # then
    assert "<html" in html.lower() and summary["sampled"]
    assert (summary["rows_reference_sampled"], summary["rows_current_sampled"]) == (500, 500)
    tests = {c: v["test"] for c, v in summary["columns"].items()}
    assert tests == {c.column: c.test for c in report.columns}
