"""The flights contract on the real demo data: Jan-May 2013 judges June 2013."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pytest

from perennial.config import Config, load_config
from perennial.core.data import split_by_time
from perennial.core.validation import SuiteSpec, ValidationReport, derive_suite, validate_frame
from perennial.io.demo_data import load_demo_frame

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "flights.yaml"
END_OF_JUNE = dt.datetime(2013, 7, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return load_demo_frame()  # ~3 s: built once for the module


@pytest.fixture(scope="module")
def windows(demo: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_by_time(demo, config)  # Jan-May to train on, June held out


@pytest.fixture(scope="module")
def suite(windows: tuple[pd.DataFrame, pd.DataFrame], config: Config) -> SuiteSpec:
    return derive_suite(config, windows[0])


def validate_june(june: pd.DataFrame, suite: SuiteSpec, config: Config) -> ValidationReport:
    return validate_frame(
        june, suite, source="june.parquet", as_of=END_OF_JUNE, freshness_hours=48, volume=config.validation.volume
    )


def test_the_windows_are_the_configured_months(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, june = windows
    assert train["time_hour"].min().month == 1 and train["time_hour"].max().month == 5
    assert set(june["time_hour"].dt.month) == {6}


def test_june_passes_the_contract_of_january_to_may(windows, suite: SuiteSpec, config: Config) -> None:
    # given the contract of Jan-May / when June is validated at the end of June
    report = validate_june(windows[1], suite, config)
    # then every check passes, freshness and volume included
    assert report.passed, report.summary()
    rules = {r.rule for r in report.results}
    assert {"freshness <= 48h", "volume 0.5x-2x reference", "unique"} <= rules
    assert len(report.results) > 50


def test_june_in_celsius_times_100_fails_naming_temp_and_its_range(windows, suite: SuiteSpec, config: Config) -> None:
    # given June's temperatures written as Celsius * 100 by a broken upstream job
    june = windows[1].assign(temp=lambda f: (f["temp"] - 32) * 5 / 9 * 100)
    # when validated
    report = validate_june(june, suite, config)
    # then temp's declared range fails, and the message names file, column and rule
    assert [(r.column, r.rule) for r in report.failures] == [("temp", "values in range [-40, 130]")]
    assert "june.parquet: 1 of" in report.summary()
    assert "column 'temp' values in range [-40, 130] (" in report.summary()


def test_june_without_a_column_fails_naming_it(windows, suite: SuiteSpec, config: Config) -> None:
    report = validate_june(windows[1].drop(columns=["carrier"]), suite, config)
    assert [(r.column, r.rule) for r in report.failures] == [("carrier", "exists")]
    assert "column 'carrier' missing" in report.summary()


def test_half_a_june_is_too_little_and_too_old(windows, suite: SuiteSpec, config: Config) -> None:
    # given only the first week of June, judged at the end of June
    first_week = windows[1][windows[1]["time_hour"] < pd.Timestamp("2013-06-08", tz="UTC")].iloc[::3]
    report = validate_june(first_week, suite, config)
    # then staleness blocks, and the low volume is a warning (recorded and shown, not blocking)
    assert {r.rule for r in report.failures} == {"freshness <= 48h"}
    assert {r.rule for r in report.warnings} == {"volume 0.5x-2x reference"}
    assert "1 warning(s): volume 0.5x-2x reference (" in report.summary()


def test_june_in_km_or_a_feed_of_zeros_is_blocked_though_inside_the_declared_range(
    windows, suite: SuiteSpec, config: Config
) -> None:
    # given June's distances in km (all but the Hawaii flights inside [0, 6000]) and, apart, sched_dep_time 0
    km = validate_june(windows[1].assign(distance=lambda f: f["distance"] * 1.609), suite, config)
    zeros = validate_june(windows[1].assign(sched_dep_time=0), suite, config)
    # then each is blocked naming its column and what moved (the range rule catches only the 8,000 km flights)
    assert {(r.column, r.rule) for r in km.failures} == {
        ("distance", "values in range [0, 6000]"),
        ("distance", "no unit shift"),
    }
    assert "every quartile moved by x1.6" in km.summary()  # x1.609 on June's routes against Jan-May's
    assert [(r.column, r.rule) for r in zeros.failures] == [("sched_dep_time", "varies as in the reference")]
    assert "values is 0;" in zeros.summary()


def test_the_whole_year_validates_in_seconds(demo: pd.DataFrame, suite: SuiteSpec, config: Config) -> None:
    # given all 327k rows of 2013 / when validated (GX imported already by the tests above)
    validate_frame(demo.head(100), suite, source="warm-up")
    started = time.perf_counter()
    report = validate_frame(demo, suite, source="flights.parquet", volume=config.validation.volume)
    seconds = time.perf_counter() - started
    # then it takes about a second; the bound only catches a pathological slowdown
    print(f"validate_frame on {len(demo):,} rows: {seconds:.2f}s")
    assert report.rows == len(demo) > 300_000
    assert seconds < 30
