"""The data contract on tiny frames: each rule fails alone, names its column, and never crashes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perennial.config import Config, Volume, parse_config
from perennial.core.validation import (
    RuleResult,
    SuiteSpec,
    ValidationReport,
    derive_suite,
    validate_frame,
)
from perennial.core.validation_gx import ColumnCheck, run_checks
from perennial.core.validation_labels import check_arrived_labels
from perennial.errors import DataValidationFailed
from tests.conftest import config_dict

START = pd.Timestamp("2013-01-01", tz="UTC")
LAST_DAY = dt.datetime(2013, 1, 5, tzinfo=dt.UTC)  # the frames below span Jan 1-4


def frame(rows: int = 40, days: int = 4) -> pd.DataFrame:
    """Flights-like rows spread evenly over ``days``; every value valid."""
    i = np.arange(rows)
    return pd.DataFrame(
        {
            "flight_id": [f"f{k}" for k in i],
            "time_hour": START + pd.to_timedelta(i * days * 24 // rows, unit="h"),
            "carrier": np.array(["AA", "B6", "DL", "UA"])[i % 4],
            "origin": np.array(["EWR", "JFK", "LGA"])[i % 3],
            "distance": 200.0 + 10 * i,
            "temp": 40.0 + i % 20,
            "delayed": i % 2,
        }
    )


def config(**validation: Any) -> Config:
    raw = config_dict()
    raw["validation"].update(validation)
    return parse_config(raw, "tiny.yaml")


@pytest.fixture
def suite() -> SuiteSpec:
    return derive_suite(config(), frame())


def failed(report: ValidationReport) -> dict[tuple[str | None, str], str]:
    """Every broken rule, blocking or warning."""
    return {(r.column, r.rule): r.observed for r in report.results if not r.passed}


# --- the contract ---------------------------------------------------------------------------


def test_the_suite_takes_rules_from_config_and_facts_from_the_reference() -> None:
    # given a reference where a tenth of temp is missing
    reference = frame().assign(temp=lambda f: f["temp"].where(f.index % 10 != 0))
    # when the contract is derived
    suite = derive_suite(config(null_margin=0.05), reference)
    # then null bounds are the reference's share plus the margin; ranges are the declared ones
    assert suite.column("temp").max_null_share == pytest.approx(0.15)
    assert suite.column("distance").max_null_share == pytest.approx(0.05)
    assert suite.column("temp").range == (-40, 130)
    assert suite.column("carrier").categories == ("AA", "B6", "DL", "UA")
    assert suite.column("delayed").kind == "target" and suite.column("delayed").max_null_share == 0
    assert suite.reference_rows_per_day == 10


def test_a_reference_missing_a_column_still_yields_a_contract_that_names_it() -> None:
    # given a broken window without temp and without any timestamps (the task derives its own contract)
    broken = frame().drop(columns=["temp"]).assign(time_hour=None)
    # when a contract is derived from it: no error
    suite = derive_suite(config(), broken)
    # then temp keeps its declared rules, and validating the same data reports what is wrong
    assert suite.column("temp").range == (-40, 130) and suite.reference_start is None
    report = validate_frame(broken, suite, source="broken.parquet", volume=Volume())
    assert failed(report)[("temp", "exists")] == "missing"
    assert failed(report)[(None, "volume 0.5x-2x reference")] == "no timestamps in 'time_hour' to count days"


def test_suite_round_trips_through_json(suite: SuiteSpec) -> None:
    # given a derived suite / when written as JSON text and read back
    again = SuiteSpec.from_dict(json.loads(json.dumps(suite.to_dict())))
    # then nothing is lost
    assert again == suite
    assert again.to_dict() == suite.to_dict()


def test_a_malformed_suite_dict_is_a_clear_error(suite: SuiteSpec) -> None:
    broken = suite.to_dict()
    del broken["time_column"]
    with pytest.raises(ValueError, match="time_column"):
        SuiteSpec.from_dict(broken)
    with pytest.raises(ValueError, match="format"):
        SuiteSpec.from_dict({**suite.to_dict(), "format": 99})


# --- column rules ---------------------------------------------------------------------------


def test_valid_data_passes_every_check(suite: SuiteSpec) -> None:
    # given new data like the reference / when validated with every rule on
    report = validate_frame(frame(), suite, source="new.parquet", as_of=LAST_DAY, freshness_hours=72, volume=Volume())
    # then it passes, and each column got its checks
    assert report.passed, report.summary()
    assert report.failures == ()
    assert report.rows == 40
    # (a 40-row window may miss 8.2% by chance where the reference missed none: 3.29 binomial errors)
    assert {r.rule for r in report.results if r.column == "distance"} == {
        "exists",
        "type numeric",
        "null share <= 8.2%",
        "values in range [0, 6000]",
        "varies as in the reference",
        "no unit shift",
    }
    assert report.summary() == f"new.parquet: all {len(report.results)} checks passed on 40 rows"


def test_a_missing_column_is_named_and_the_other_checks_still_run(suite: SuiteSpec) -> None:
    # given data without temp
    report = validate_frame(frame().drop(columns=["temp"]), suite, source="new.parquet")
    # then the only failure is temp's existence, and distance was still checked
    assert failed(report) == {("temp", "exists"): "missing"}
    assert any(r.column == "distance" and r.rule.startswith("values in range") for r in report.results)
    assert "column 'temp' missing" in report.summary()


def test_numbers_arriving_as_text_are_a_type_failure(suite: SuiteSpec) -> None:
    # given distance as text such as "1000 miles"
    flipped = frame().assign(distance=lambda f: f["distance"].map(lambda v: f"{v:.0f} miles"))
    # when validated: no crash
    report = validate_frame(flipped, suite, source="new.parquet")
    # then the type rule of distance fails, showing what arrived
    observed = failed(report)[("distance", "type numeric")]
    assert "object" in observed and "'200 miles'" in observed
    assert "column 'distance' type numeric" in report.summary()
    assert len(report.failures) == 1  # its range check is skipped, not failed a second time


def test_a_number_column_turned_text_by_one_value_shows_that_value(suite: SuiteSpec) -> None:
    # given good distances read as text because the last row's is 'Total' (a sheet's footer)
    text = frame()["distance"].map(lambda v: f"{v:.0f}").astype(object)
    text.iloc[-1] = "Total"
    report = validate_frame(frame().assign(distance=text), suite, source="new.csv")
    # then the failure shows the value that is not a number, not the good numbers before it
    observed = failed(report)[("distance", "type numeric")]
    assert observed == f"dtype object: 1 of {len(text)} values are not numbers, e.g. 'Total'"


def test_a_null_heavy_column_fails_with_its_null_share(suite: SuiteSpec) -> None:
    # given a quarter of temp missing (the bound is 0% + 5%, widened to 8.2% for a window of 40 rows)
    holey = frame().assign(temp=lambda f: f["temp"].where(f.index % 4 != 0))
    report = validate_frame(holey, suite, source="new.parquet")
    assert failed(report) == {("temp", "null share <= 8.2%"): "25.0% null (10 of 40 rows)"}
    # then unusual missingness is a warning by default: shown, not blocking
    assert report.passed and [w.kind for w in report.warnings] == ["nulls"]
    assert "| warn | `temp` | null share <= 8.2% |" in report.to_markdown()
    # and blocking when the config says so
    strict = validate_frame(holey, suite, source="new.parquet", warnings=())
    assert not strict.passed and [f.kind for f in strict.failures] == ["nulls"]


def test_an_all_null_column_blocks_whatever_missingness_warns(suite: SuiteSpec) -> None:
    report = validate_frame(frame().assign(temp=np.nan), suite, source="new.parquet")
    assert [(f.column, f.rule, f.observed) for f in report.failures] == [
        ("temp", "null share < 100% (not all null)", "100.0% null (40 rows)")
    ]


def test_a_column_gone_mostly_missing_blocks_though_missingness_warns(suite: SuiteSpec) -> None:
    # given temp present in every reference window, then missing on 32 of 40 rows (a broken feed)
    feed_bug = frame().assign(temp=lambda f: f["temp"].where(f.index % 5 == 0))
    report = validate_frame(feed_bug, suite, source="new.parquet")
    # then the surge blocks, beside the (warning) null bound, naming how far it is from the reference
    assert [(f.column, f.rule, f.kind) for f in report.failures] == [
        ("temp", "null share <= 30.0% (no surge of missing values)", "null_surge")
    ]
    assert "80.0% null (32 of 40 rows) where no reference window held more than 0.0%" in report.summary()
    # and the way on it offers is to drop the column, not to train on it mostly empty
    assert "If 'temp' is gone for good, not a broken feed: take it out of data.features" in report.summary()
    assert "list null_surge in validation.warnings" not in report.summary()
    # while a config that expects such gaps turns it into a warning
    assert validate_frame(feed_bug, suite, source="new.parquet", warnings=("nulls", "null_surge")).passed
    # and 40% missing where it never was blocks too, while 20% (a bad day) warns
    forty = frame().assign(temp=lambda f: f["temp"].where(f.index % 5 >= 2))
    twenty = frame().assign(temp=lambda f: f["temp"].where(f.index % 5 >= 1))
    assert [f.kind for f in validate_frame(forty, suite, source="n").failures] == ["null_surge"]
    assert validate_frame(twenty, suite, source="n").passed


def test_a_surge_is_measured_from_the_reference_windows_own_missingness() -> None:
    # given a reference whose temp was missing on 60% of rows in some windows
    reference = frame().assign(temp=lambda f: f["temp"].where(f.index % 5 < 2))
    suite = derive_suite(config(), reference)
    # when a window misses 80% (within half of the 60% seen before)
    report = validate_frame(frame().assign(temp=lambda f: f["temp"].where(f.index % 5 == 0)), suite, source="n")
    # then it is at most a warning, not a surge
    assert report.passed and "null_surge" not in {r.kind for r in report.results if not r.passed}


def test_a_column_collapsed_to_one_value_blocks(suite: SuiteSpec) -> None:
    # given distance 0 on every row, inside its declared range [0, 6000]
    report = validate_frame(frame().assign(distance=0.0), suite, source="new.parquet")
    # then the column is blocked for not varying as every reference window did
    assert [(f.column, f.rule) for f in report.failures] == [("distance", "varies as in the reference")]
    assert "every one of 40 values is 0.0; each reference window held >= 40 distinct values" in report.summary()


def test_labels_all_of_one_class_block_where_the_reference_could_not_have_made_them() -> None:
    # given a reference labelled half and half every day, and one labelled 90% negative every day
    even = derive_suite(config(), frame(400, days=4))
    lopsided = derive_suite(config(), frame(400, days=4).assign(delayed=lambda f: (f.index % 10 == 0).astype(int)))
    window = frame(40).assign(delayed=0)  # 40 labels, every one 0
    # when the one-class window is checked against each
    against_even = validate_frame(window, even, source="june.csv")
    against_lopsided = validate_frame(window, lopsided, source="june.csv")
    # then it cannot be chance against the even reference (0.5^40), and labels always block
    assert [(f.column, f.rule, f.kind) for f in against_even.failures] == [
        ("delayed", "labels vary as in the reference", "labels")
    ]
    assert "every one of 40 labels is 0; no reference window held more than 50.0% of one value" in (
        against_even.summary()
    )
    # and against the lopsided one (0.9^40 = 1.5%) it could be a quiet window: it passes
    assert against_lopsided.passed
    # and even labels pass the even reference
    assert validate_frame(frame(40), even, source="june.csv").passed


def test_a_windows_arrived_labels_are_judged_as_a_feed_though_its_data_is_checked_without_them() -> None:
    # given a reference labelled half and half, and a window's data checked as monitoring checks it (no target)
    suite = derive_suite(config(), frame(400, days=4))
    window = frame(40).drop(columns=["delayed"])
    report = validate_frame(window, suite, source="june.csv", require_target=False)
    assert report.passed and not any(r.column == "delayed" for r in report.results)
    # when the labels that arrived for its rows are all 0, or half and half, or none yet
    broken = check_arrived_labels(report, pd.Series([0.0] * 40), suite)
    fine = check_arrived_labels(report, pd.Series([0.0, 1.0] * 20), suite)
    none = check_arrived_labels(report, pd.Series([float("nan")] * 40), suite)
    # then the one-class feed refuses the window, naming the labels; real labels and no labels pass
    assert [(f.column, f.rule, f.kind) for f in broken.failures] == [
        ("delayed", "labels vary as in the reference", "labels")
    ]
    assert fine.passed and len(fine.results) == len(report.results) + 1
    assert none is report


def test_regression_labels_moved_by_one_factor_block() -> None:
    # given a regression contract: the label is minutes of delay, varying each day
    raw = config_dict()
    raw["task"] = "regression"
    raw["data"]["target"] = {"column": "delay"}
    raw["evaluation"]["primary_metric"] = "mae"
    raw["gate"]["min_lift_over_baseline"] = None
    raw["training"]["candidates"] = [{"name": "ridge", "family": "ridge"}]
    raw["monitoring"] = {"retraining": {"performance_tolerance": 5.0}}
    regression = parse_config(raw, "delay.yaml")
    minutes = frame(400, days=4).drop(columns="delayed").assign(delay=lambda f: 10.0 + (f.index * 7) % 50)
    suite = derive_suite(regression, minutes)
    # when a window's labels arrive x100 (seconds and a slip of units), and one arrives as it should
    scaled = validate_frame(minutes.head(100).assign(delay=lambda f: f["delay"] * 100), suite, source="june.csv")
    clean = validate_frame(minutes.tail(100), suite, source="july.csv")
    # then the scaled labels are blocked, the clean ones pass
    assert [(f.column, f.rule, f.kind) for f in scaled.failures] == [("delay", "no unit shift", "unit_shift")]
    assert "every quartile moved by x100" in scaled.summary()
    assert clean.passed
    # and a target that really grew is let through, as a warning, once unit_shift is listed (as the advice says)
    assert "list unit_shift in validation.warnings" in scaled.summary()
    grown = minutes.head(100).assign(delay=lambda f: f["delay"] * 100)
    assert validate_frame(grown, suite, source="june.csv", warnings=("unit_shift",)).passed
    # and so are such labels arriving for a window checked without them (as monitoring joins them)
    window = validate_frame(grown.drop(columns="delay"), suite, source="june.csv", require_target=False)
    assert not check_arrived_labels(window, grown["delay"], suite).passed
    assert check_arrived_labels(window, grown["delay"], suite, warnings=("unit_shift",)).passed


def test_a_contract_stored_before_variation_still_loads_and_checks(suite: SuiteSpec) -> None:
    # given a contract as older versions stored it: no variation, no window, no warnings
    raw = suite.to_dict()
    raw.pop("window"), raw.pop("warnings")
    for column in raw["columns"]:
        column.pop("variation")
    old = SuiteSpec.from_dict(raw)
    # when the same data is checked, then the declared rules run and the new ones do not
    report = validate_frame(frame(), old, source="new.parquet")
    assert report.passed and not any(r.kind in ("collapse", "unit_shift") for r in report.results)
    assert SuiteSpec.from_dict(suite.to_dict()) == suite


def test_values_outside_a_declared_range_fail(suite: SuiteSpec) -> None:
    # given three temperatures far above the declared maximum
    hot = frame()
    hot.loc[[3, 4, 5], "temp"] = 500.0
    report = validate_frame(hot, suite, source="new.parquet")
    assert failed(report) == {("temp", "values in range [-40, 130]"): "3 of 40 rows outside, e.g. 500.0"}


def test_nulls_are_not_counted_as_out_of_range(suite: SuiteSpec) -> None:
    one_null = frame()
    one_null.loc[0, "temp"] = np.nan
    assert validate_frame(one_null, suite, source="new.parquet").passed


def test_a_new_category_warns_a_recoded_column_blocks_and_categories_may_be_made_to_block() -> None:
    # given a contract allowing 1% unseen carriers, derived from 400 rows
    suite = derive_suite(config(max_unseen_category_share=0.01), frame(400, days=4))
    few, many, recoded = frame(400, days=4), frame(400, days=4), frame(400, days=4)
    few.loc[[7, 8], "carrier"] = "ZZ"  # 0.5%
    many.loc[:39, "carrier"] = "ZZ"  # 10%: a new carrier beside the known ones
    recoded["carrier"] = recoded["carrier"].str.lower()  # every value renamed: a feed fault
    # when each is validated
    reports = {name: validate_frame(f, suite, source=f"{name}.csv") for name, f in [("few", few), ("many", many)]}
    recoded_report = validate_frame(recoded, suite, source="recoded.csv")
    # then a new route or two passes unremarked (and is still shown)
    carrier_rule = "in set of 4 known categories (<=1.0% unseen)"
    assert reports["few"].passed and not reports["few"].warnings
    assert "'ZZ'" in next(r.observed for r in reports["few"].results if r.rule == carrier_rule)
    # a new carrier on a tenth of the rows passes with a warning naming it: the data as it now is
    assert reports["many"].passed and [(w.column, w.rule, w.observed) for w in reports["many"].warnings] == [
        ("carrier", carrier_rule, "40 of 400 rows (10.0%) not in the set, e.g. 'ZZ'")
    ]
    # and a column whose values are all unknown blocks, saying what it looks like and how to go on
    assert not recoded_report.passed and {r.kind for r in recoded_report.failures} == {"recoded"}
    assert "'carrier' are not among the categories the model knows: a recoding" in recoded_report.summary()
    # a team that wants new categories to block says so, and is told how to undo it
    strict = validate_frame(many, suite, source="many.csv", warnings=("nulls", "volume"))
    assert failed(strict) == {("carrier", carrier_rule): "40 of 400 rows (10.0%) not in the set, e.g. 'ZZ'"}
    assert "list categories in validation.warnings" in strict.summary()
    assert "scores a new category as unseen" in strict.summary()
    missing = validate_frame(frame(400, days=4).drop(columns=["carrier"]), suite, source="gone.csv")
    assert not missing.passed and "validation.warnings" not in missing.summary()


def test_a_column_whose_values_are_mostly_new_every_time_is_not_taken_for_a_recoding() -> None:
    # given a categorical column whose reference values were nearly all seen once (a cabin number)
    reference = frame(400, days=4).assign(carrier=[f"C{i}" for i in range(400)])
    suite = derive_suite(config(max_unseen_category_share=0.01), reference)
    (cabin,) = [c for c in suite.columns if c.name == "carrier"]
    assert cabin.novelty == 1.0 and SuiteSpec.from_dict(suite.to_dict()) == suite  # stored with the contract
    # when a new batch brings cabins never seen
    report = validate_frame(frame(400, days=4).assign(carrier=[f"D{i}" for i in range(400)]), suite, source="new.csv")
    # then it passes, the new values named as a warning: new values are this column's normal
    assert report.passed and [w.column for w in report.warnings] == ["carrier"]


def test_a_sparse_column_empty_in_a_small_batch_passes_and_empty_in_a_large_one_blocks() -> None:
    # given a carrier column missing on 70% of the reference's rows (an optional field)
    reference = frame(400, days=4)
    reference["carrier"] = reference["carrier"].where(reference.index % 10 < 3)
    suite = derive_suite(config(), reference)
    # when a batch of 20 rows, and one of 400, arrive with no carrier at all (read as floats: no text in them)
    small = validate_frame(frame(20).assign(carrier=float("nan")), suite, source="batch.csv")
    large = validate_frame(frame(400, days=4).assign(carrier=float("nan")), suite, source="day.csv")
    # then the small batch passes (20 rows all missing happen by chance), its empty column not a type fault
    assert small.passed, small.summary()
    typed = next(r for r in small.results if r.column == "carrier" and r.rule.startswith("type"))
    assert typed.passed and typed.observed == "dtype float64: no value to judge"
    # while 400 rows with none is a feed that lost the column
    assert {(f.column, f.kind) for f in large.failures} == {("carrier", "all_null")}


def test_duplicate_ids_fail(suite: SuiteSpec) -> None:
    doubled = frame()
    doubled.loc[1, "flight_id"] = "f0"
    report = validate_frame(doubled, suite, source="new.parquet")
    assert failed(report) == {("flight_id", "unique"): "2 rows share a duplicated value, e.g. 'f0'"}


def test_a_target_outside_zero_and_one_fails(suite: SuiteSpec) -> None:
    labelled = frame()
    labelled.loc[2, "delayed"] = 2
    report = validate_frame(labelled, suite, source="new.parquet")
    assert failed(report) == {("delayed", "values in {0, 1}"): "1 of 40 rows (2.5%) not in the set, e.g. 2"}
    # and the message says what a label outside the known classes asks of the user
    assert "a class no model here learnt: if it is real and rare, drop or merge its rows" in report.summary()


def test_a_missing_label_fails(suite: SuiteSpec) -> None:
    unlabelled = frame().assign(delayed=lambda f: f["delayed"].astype(float).where(f.index != 3))
    report = validate_frame(unlabelled, suite, source="new.parquet")
    assert list(failed(report)) == [("delayed", "not null")]


def test_a_table_that_always_had_unlabelled_rows_may_keep_about_as_many() -> None:
    # given a reference where every tenth row has no label (a public table's unlabelled rows)
    unlabelled = frame().assign(delayed=lambda f: f["delayed"].astype(float).where(f.index % 10 != 3))
    suite = derive_suite(config(null_margin=0.05), unlabelled)
    # when new data has as many unlabelled rows / then it passes: those rows are left out of training
    assert not failed(validate_frame(unlabelled, suite, source="new.parquet"))
    # when far more are unlabelled / then the feed changed, and the rule says by how much
    worse = frame().assign(delayed=lambda f: f["delayed"].astype(float).where(f.index % 2 == 0))
    assert list(failed(validate_frame(worse, suite, source="new.parquet"))) == [("delayed", "null share <= 15.0%")]


def test_serving_data_is_checked_without_a_target(suite: SuiteSpec) -> None:
    # given scoring input: no label column at all, or a label column holding junk
    no_label = frame().drop(columns=["delayed"])
    junk_label = frame().assign(delayed=7)
    # when validated with require_target=False / then the target is not part of the checks
    for data in (no_label, junk_label):
        report = validate_frame(data, suite, source="requests", require_target=False)
        assert report.passed, report.summary()
        assert all(r.column != "delayed" for r in report.results)
    # while training data without labels fails naming the target
    assert failed(validate_frame(no_label, suite, source="train.parquet")) == {("delayed", "exists"): "missing"}


def test_pandas_extension_dtypes_and_text_timestamps_are_accepted(suite: SuiteSpec) -> None:
    # given the same data as nullable ints, categoricals, strings, booleans and ISO text times
    other_dtypes = frame().assign(
        temp=lambda f: f["temp"].astype("Int64"),
        carrier=lambda f: f["carrier"].astype("category"),
        origin=lambda f: f["origin"].astype("string"),
        delayed=lambda f: f["delayed"].astype(bool),
        time_hour=lambda f: f["time_hour"].astype(str),
    )
    report = validate_frame(other_dtypes, suite, source="new.csv", as_of=LAST_DAY, freshness_hours=72)
    assert report.passed, report.summary()


def test_unparseable_timestamps_are_a_type_failure(suite: SuiteSpec) -> None:
    bad_times = frame().assign(time_hour=lambda f: f["time_hour"].astype(str).where(f.index > 1, "yesterday"))
    report = validate_frame(bad_times, suite, source="new.csv")
    assert failed(report) == {("time_hour", "type datetime"): "2 values are not timestamps, e.g. 'yesterday'"}


def test_extra_columns_are_allowed_and_noted(suite: SuiteSpec) -> None:
    report = validate_frame(frame().assign(gate="B12"), suite, source="new.parquet")
    assert report.passed
    assert RuleResult(None, "extra columns allowed", True, "1 not in the contract: 'gate'") in report.results


def test_an_empty_frame_fails_without_crashing(suite: SuiteSpec) -> None:
    report = validate_frame(frame().iloc[:0], suite, source="empty.parquet", freshness_hours=72, volume=Volume())
    assert set(failed(report)) == {(None, "rows > 0"), (None, "freshness <= 72h"), (None, "volume 0.5x-2x reference")}


# --- table rules ----------------------------------------------------------------------------


def test_freshness_judges_the_newest_timestamp_against_as_of(suite: SuiteSpec) -> None:
    # given data whose newest row is Jan 4 21:00
    data = frame()
    # when judged a day later, and ten days later, with a 72h limit
    fresh = validate_frame(data, suite, source="new.parquet", as_of=LAST_DAY, freshness_hours=72)
    later = LAST_DAY + dt.timedelta(days=10)
    stale = validate_frame(data, suite, source="new.parquet", as_of=later, freshness_hours=72)
    # then only the late judgement fails, saying how old the data is
    assert fresh.passed
    assert failed(stale) == {
        (None, "freshness <= 72h"): "newest 2013-01-04 21:00 UTC is 243.0h before 2013-01-15 00:00 UTC"
    }
    # and without as_of, "now" is used: 2013 data is stale today
    assert not validate_frame(data, suite, source="new.parquet", freshness_hours=72).passed
    # and without a limit nothing is judged
    assert all("freshness" not in r.rule for r in validate_frame(data, suite, source="new.parquet").results)


def test_too_little_volume_fails(suite: SuiteSpec) -> None:
    # given a quarter of the reference's rows per day (10 rows over 4 days vs 40)
    thin = frame().iloc[::4]
    report = validate_frame(thin, suite, source="new.parquet", volume=Volume(min_ratio=0.5, max_ratio=2.0))
    assert failed(report) == {(None, "volume 0.5x-2x reference"): "2 rows/day over 4 day(s) = 0.25x reference (10/day)"}
    # and the same rows per day over fewer days passes
    assert validate_frame(frame(20, days=2), suite, source="new.parquet", volume=Volume()).passed


# --- the report -----------------------------------------------------------------------------


def test_summary_names_source_column_and_rule(suite: SuiteSpec) -> None:
    hot = frame().drop(columns=["carrier"])
    hot.loc[0, "temp"] = 999.0
    summary = validate_frame(hot, suite, source="flights.parquet").summary()
    assert summary.startswith("flights.parquet: 2 of ")
    assert "column 'temp' values in range [-40, 130] (1 of 40 rows outside, e.g. 999.0)" in summary
    assert "column 'carrier' missing" in summary


def test_markdown_and_dict_lead_with_the_verdict(suite: SuiteSpec) -> None:
    report = validate_frame(frame().drop(columns=["origin"]), suite, source="new.parquet")
    markdown = report.to_markdown()
    assert markdown.startswith("# Data validation FAILED: `new.parquet`")
    assert markdown.index("## Failures") < markdown.index("## All checks")
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["passed"] is False and as_dict["failed"] == 1 and as_dict["source"] == "new.parquet"
    assert {
        "column": "origin",
        "rule": "exists",
        "passed": False,
        "observed": "missing",
        "kind": "schema",
        "blocking": True,
    } in as_dict["results"]


def test_raise_if_failed_carries_the_report(suite: SuiteSpec) -> None:
    bad = validate_frame(frame().drop(columns=["temp"]), suite, source="new.parquet")
    good = validate_frame(frame(), suite, source="new.parquet")
    with pytest.raises(DataValidationFailed, match="new.parquet: .*column 'temp' missing") as caught:
        bad.raise_if_failed()
    assert caught.value.report is bad
    assert good.raise_if_failed() is good


# --- quiet and in memory --------------------------------------------------------------------


def test_validation_writes_nothing_and_prints_nothing(
    suite: SuiteSpec,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given an empty working folder
    monkeypatch.chdir(tmp_path)
    # when data is validated
    with caplog.at_level(logging.INFO):
        validate_frame(frame(), suite, source="new.parquet")
    # then GX left no gx/ folder, drew no progress bar and logged nothing
    assert list(tmp_path.iterdir()) == []
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert [r.getMessage() for r in caplog.records if r.name.startswith("great_expectations")] == []


def test_a_check_gx_cannot_compute_is_a_failure_not_a_crash() -> None:
    # given a range check on text (the planner never sends one, but GX must not take the flow down)
    check = ColumnCheck("a", "values in range [0, 1]", "between", {"min_value": 0, "max_value": 1})
    outcomes = run_checks(pd.DataFrame({"a": ["x", "y"]}), [check])
    # then it is reported as failed, with GX's reason
    [(passed, observed)] = outcomes
    assert not passed and observed.startswith("could not be checked: ")


def test_importing_the_module_does_not_import_great_expectations() -> None:
    script = "import sys, perennial.core.validation; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _priority_suite() -> SuiteSpec:
    """A multiclass contract whose classes are the priorities AA, B6, DL and UA (the carriers)."""
    raw = config_dict()
    raw |= {"task": "multiclass", "gate": {"min_lift_over_baseline": 0.0}}
    raw["data"]["target"] = "priority"
    raw["training"]["baseline"] = "prior"
    raw["evaluation"] = {k: v for k, v in raw["evaluation"].items() if k not in ("primary_metric", "secondary_metrics")}
    reference = frame(400, days=4)
    return derive_suite(
        parse_config(raw, "carrier.yaml"), reference.assign(priority=reference["carrier"]).drop(columns="delayed")
    )


def test_a_new_class_in_training_data_is_learnt_with_a_warning_not_refused_under_the_champions_contract() -> None:
    # given a multiclass champion's contract with the classes AA, B6, DL and UA
    suite = _priority_suite()
    # when a retrain's data holds a fifth class, ZZ, on 4 of 40 rows
    window = frame(40).drop(columns="delayed")
    window = window.assign(priority=["AA", "B6", "DL", "UA"] * 9 + ["ZZ"] * 4)
    report = validate_frame(window, suite, source="retrain.csv")
    # then it passes with the new class said as a warning: a retrain can learn it (it could never before)
    assert report.passed
    (new,) = [r for r in report.warnings if r.column == "priority"]
    assert new.rule == "classes in {AA, B6, DL, UA}" and "ZZ" in new.observed
    # and with categories not among the warnings it blocks, saying how to let it through
    strict = validate_frame(window, suite, source="retrain.csv", warnings=())
    assert not strict.passed and "validation.warnings" in strict.summary()


def test_arrived_labels_of_a_class_the_model_never_learnt_warn_by_default_and_block_when_asked() -> None:
    # given a multiclass contract whose classes are the priorities AA, B6, DL and UA
    suite = _priority_suite()
    report = validate_frame(frame(40).drop(columns="delayed"), suite, source="june.csv", require_target=False)
    labels = pd.Series(["AA", "B6", "DL", "UA"] * 9 + ["ZZ"] * 4)
    # when 4 of the 40 labels that arrived are 'ZZ' / then it is said as a warning, the window passes
    warned = check_arrived_labels(report, labels, suite)
    assert warned.passed
    (new,) = [r for r in warned.warnings if r.rule == "labels among the classes the model learnt"]
    assert new.observed.startswith("4 of 40 labels (10.0%) are classes the model never learnt: 'ZZ' (4)")
    # and with categories not among the warnings it blocks
    assert not check_arrived_labels(report, labels, suite, warnings=()).passed
    # and labels all among the learnt classes add no such rule
    known = check_arrived_labels(report, pd.Series(["AA", "B6", "DL", "UA"] * 10), suite)
    assert not any(r.rule == "labels among the classes the model learnt" for r in known.results)


def test_a_categorical_column_of_whole_number_codes_is_categories_not_a_wrong_type() -> None:
    # given origin written as airport codes 1, 2, 3 and listed as categorical (a store number, a zip code)
    coded = frame().assign(origin=lambda f: f["origin"].map({"EWR": 1, "JFK": 2, "LGA": 3}))
    suite = derive_suite(config(), coded)
    # when a window of such codes is checked / then its type passes (it was refused as a wrong type)
    assert validate_frame(coded, suite, source="new.csv").passed
    # and a code never seen is an unseen category, while text in place of the codes stays a wrong type
    unseen = validate_frame(coded.assign(origin=[9] * 40), suite, source="new.csv")
    assert ("origin", "mostly known categories (<=50.0% unseen: not recoded)") in failed(unseen)
    floats = validate_frame(coded.assign(origin=coded["origin"] + 0.5), suite, source="new.csv")
    assert ("origin", "type text/categorical") in failed(floats)
