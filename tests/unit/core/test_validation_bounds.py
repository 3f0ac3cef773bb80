from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from perennial.core.validation_bounds import (
    ColumnVariation,
    agreement,
    collapsed,
    measure_variation,
    null_limit,
    unit_shift,
    window_keys,
)

DAYS = pd.date_range("2013-01-01", periods=60 * 24, freq="h", tz="UTC")


def test_windows_are_days_weeks_or_months() -> None:
    times = pd.Series(pd.to_datetime(["2013-01-06 23:00", "2013-01-07 01:00", "2013-02-01 00:00"], utc=True))
    assert window_keys(times, "day").dt.day.tolist() == [6, 7, 1]
    assert window_keys(times, "week").dt.strftime("%m-%d").tolist() == ["12-31", "01-07", "01-28"]
    assert window_keys(times, "month").dt.month.tolist() == [1, 1, 2]


def test_the_null_bound_covers_the_worst_reference_window_not_the_pooled_share() -> None:
    # given a feed that is complete except for one bad day in which 40% is missing
    rng = np.random.default_rng(0)
    values = pd.Series(rng.normal(1013, 8, len(DAYS)))
    values[(DAYS >= "2013-01-20") & (DAYS < "2013-01-20 10:00")] = np.nan
    # when its variation is measured by day
    variation = measure_variation(values, window_keys(pd.Series(DAYS), "day"), numeric=True)
    # then the pooled share is tiny but the worst day's share is kept
    assert variation.windows == 60 and variation.null_share == pytest.approx(10 / len(DAYS))
    assert variation.null_high == pytest.approx(10 / 24)


def test_a_small_window_gets_the_chance_variation_of_its_size() -> None:
    variation = ColumnVariation(windows=30, null_share=0.02, null_high=0.05)
    assert null_limit(0.1, variation, rows=100_000) == 0.1  # large: the contract's bound
    # a small window: 3.29 standard errors, with at least one row's worth of variance (p near 0 has none)
    assert null_limit(0.1, variation, rows=30) == pytest.approx(0.02 + 3.29 * np.sqrt(1 / 30 / 30), abs=1e-6)
    assert null_limit(0.01, variation, rows=400) == pytest.approx(0.02 + 3.29 * np.sqrt(0.02 * 0.98 / 400), abs=1e-6)
    assert null_limit(0.1, None, rows=30) == 0.1  # contracts without variation: as before


def test_a_unit_change_moves_every_quartile_by_one_factor_and_a_season_does_not() -> None:
    # given 60 days of 200 flights: distances that vary little between days, temperatures that swing with the season
    rng = np.random.default_rng(1)
    times = pd.Series(np.repeat(pd.date_range("2013-01-01", periods=60, freq="D", tz="UTC"), 200))
    keys = window_keys(times, "day")
    distance = pd.Series(rng.lognormal(6.8, 0.6, len(times)))
    temp = pd.Series(30 + 20 * np.arange(len(times)) / len(times) + rng.normal(0, 8, len(times)))
    d_var, t_var = (measure_variation(v, keys, numeric=True) for v in (distance, temp))
    # when a day arrives in km, a day arrives in the right unit, and a warmer week arrives
    km = unit_shift(pd.Series(rng.lognormal(6.8, 0.6, 200)) * 1.609, d_var)
    same = unit_shift(pd.Series(rng.lognormal(6.8, 0.6, 200)), d_var)
    warm = unit_shift(pd.Series(rng.normal(75, 8, 1400)), t_var)
    # then only the unit change is named, with its factor
    assert km is not None and km.startswith("every quartile moved by x1.6")
    assert same is None and warm is None


def test_a_signed_column_rescaled_wholesale_is_a_unit_change_and_a_calmer_or_wilder_week_is_not() -> None:
    # given 60 days of a column centred on zero (a temperature anomaly, a return): its median near 0
    rng = np.random.default_rng(3)
    times = pd.Series(np.repeat(pd.date_range("2013-01-01", periods=60, freq="D", tz="UTC"), 200))
    anomaly = pd.Series(rng.normal(0, 2.0, len(times)))
    variation = measure_variation(anomaly, window_keys(times, "day"), numeric=True)
    assert variation.quartiles is not None and variation.quartiles[0] < 0
    # when a day arrives x1000 (another unit), a day three times as volatile, a day shifted up by 3
    scaled = unit_shift(pd.Series(rng.normal(0, 2.0, 500)) * 1000, variation)
    wilder = unit_shift(pd.Series(rng.normal(0, 6.0, 500)), variation)
    shifted = unit_shift(pd.Series(rng.normal(3, 2.0, 500)), variation)
    same = unit_shift(pd.Series(rng.normal(0, 2.0, 500)), variation)
    # then only the rescale is named, with its factor; volatility and a moved centre are the world's
    assert scaled is not None and "moved by x952" in scaled and "a unit change?" in scaled, scaled
    assert wilder is None and shifted is None and same is None


def test_quartiles_that_moved_together_by_chance_in_a_small_window_are_not_a_unit_change() -> None:
    # given a reference of two months whose medians stayed within x0.96-x1.04 (a small, skewed column)
    month = pd.Series(np.random.default_rng(2).lognormal(-2.8, 0.8, 250))
    quartiles = tuple(float(q) for q in month.quantile([0.25, 0.5, 0.75]))
    variation = ColumnVariation(2, 0.0, 0.0, quartiles=quartiles, median_ratio=(0.96, 1.04))
    # when a clean month of 250 rows has every quartile x0.75 by chance, and a month really in other units
    chance, converted = unit_shift(month * 0.75, variation), unit_shift(month * 0.6, variation)
    # then the chance move is not a unit change (it blocked a clean window), a x0.6 one still is
    assert chance is None
    assert converted is not None and converted.startswith("every quartile moved by x0.6")


def test_one_value_is_a_collapse_only_where_no_value_ever_dominated_a_window() -> None:
    # given 10 days of 50 rows: visibility mostly 10 (90% of each day), departure times all different
    times = pd.Series(np.repeat(pd.date_range("2013-01-01", periods=10, freq="D", tz="UTC"), 50))
    keys = window_keys(times, "day")
    visib = measure_variation(pd.Series(np.where(np.arange(500) % 10 == 0, 5.0, 10.0)), keys, numeric=True)
    dep = measure_variation(pd.Series(np.arange(500.0) % 2400), keys, numeric=True)
    # when a clear day has visibility 10 on every row, and a broken feed departure time 0 on every row
    clear, zeros = collapsed(pd.Series([10.0] * 50), visib), collapsed(pd.Series([0.0] * 50), dep)
    # then only the feed of zeros is a collapse
    assert visib.top_share_high == pytest.approx(0.9) and clear is None
    assert zeros == "every one of 50 values is 0.0; each reference window held >= 50 distinct values"


def test_a_large_window_whose_quartiles_moved_apart_beyond_chance_is_not_a_unit_change() -> None:
    # given two reference months of 2,000 exams of a skewed measurement
    rng = np.random.default_rng(3)
    times = pd.Series(np.repeat(pd.date_range("2024-01-01", periods=2, freq="MS", tz="UTC"), 2000))
    reference = pd.Series(rng.lognormal(-1.5, 0.45, 4000))
    variation = measure_variation(reference, window_keys(times, "month"), numeric=True)
    # when a month of 2,000 arrives moved x1.52 at its lower quartile to x1.68 at its upper (more of
    # the sick, whose values run higher: a label prior shift), and a clean month arrives in units x1.609
    month = pd.Series(rng.lognormal(-1.5, 0.45, 2000))
    shifted = month * (1.47 + 0.3 * month.rank(pct=True))
    ratios = shifted.quantile([0.25, 0.5, 0.75]).to_numpy() / np.array(variation.quartiles)
    assert ratios.min() > 1.5 and ratios.max() / ratios.min() < 1.1  # within the old rule's 10%: "one factor"
    # then the uneven move is not a unit change: 2,000 rows pin quartiles closer than that
    assert agreement(variation, 2000) < ratios.max() / ratios.min()
    assert unit_shift(shifted, variation) is None
    converted = unit_shift(month * 1.609, variation)
    assert converted is not None and converted.startswith("every quartile moved by x1.")
    # and a contract from before the noise was measured keeps the old 10%
    assert unit_shift(shifted, replace(variation, quartile_noise=None)) is not None
