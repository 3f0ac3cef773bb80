"""The contract checked over partitions: the in-memory report, word for word, for every rule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from perennial.config import Volume, parse_config
from perennial.core.drift import build_reference, detect_drift
from perennial.core.partitions import over_frames, split_frame
from perennial.core.validation import SuiteSpec, derive_suite, validate_frame
from perennial.core.validation_partitioned import validate_partitioned
from perennial.core.validation_parts import HashCounts
from perennial.core.validation_units import Accepted, Earlier
from perennial.core.window_checks import check_window_partitioned
from tests.conftest import config_dict, make_flights

AS_OF = dt.datetime(2013, 4, 2, tzinfo=dt.UTC)
VOLUME = Volume(min_ratio=0.5, max_ratio=2.0)


@pytest.fixture(scope="module")
def suite() -> SuiteSpec:
    # the contract of 90 days of flights, with how each column varied between days
    return derive_suite(parse_config(config_dict(), "tiny.yaml"), make_flights(3000, seed=1))


def window(rows: int = 2000) -> pd.DataFrame:
    return make_flights(rows, seed=2, start="2013-03-01", days=30)


def both(
    frame: pd.DataFrame, suite: SuiteSpec, parts: list[pd.DataFrame] | None = None, earlier: Earlier | None = None
) -> tuple[dict, dict]:
    """The in-memory (vectorised) report and the partitioned one, as the dicts a task logs."""
    kwargs = {"source": "w", "as_of": AS_OF, "freshness_hours": 72.0, "volume": VOLUME, "earlier": earlier}
    in_memory = validate_frame(frame, suite, engine="vectorised", **kwargs)  # type: ignore[arg-type]
    partitions = parts if parts is not None else split_frame(frame, 4)
    partitioned = validate_partitioned(over_frames(partitions), suite, **kwargs)  # type: ignore[arg-type]
    return in_memory.to_dict(), partitioned.to_dict()


def broken(report: dict) -> list[tuple[str | None, str]]:
    return [(r["column"], r["rule"]) for r in report["results"] if not r["passed"]]


def test_a_clean_window_gives_the_same_report(suite: SuiteSpec) -> None:
    # given a window drawn like the reference, in 4 partitions
    # when
    in_memory, partitioned = both(window(), suite)
    # then every rule, verdict and observed text is the same
    assert partitioned == in_memory
    assert in_memory["passed"] and not broken(in_memory)


def test_every_broken_rule_gives_the_same_verdict_and_words(suite: SuiteSpec) -> None:
    # given a window breaking many rules, each in a different partition
    bad = window()
    bad.loc[bad.index[10:400], "temp"] = np.nan  # null share
    bad.loc[bad.index[600:605], "temp"] = 500.0  # out of range
    bad.loc[bad.index[900:1100], "carrier"] = "ZZ"  # unseen categories
    bad.loc[bad.index[1990], "flight_id"] = bad.loc[bad.index[3], "flight_id"]  # a duplicate across partitions
    bad.loc[bad.index[1500], "delayed"] = 2  # a label outside {0, 1}
    bad = bad.drop(columns=["origin"]).assign(gate="A1")  # a missing column beside an extra one
    # when
    in_memory, partitioned = both(bad, suite)
    # then
    assert partitioned == in_memory
    assert {("temp", "values in range [-40, 130]"), ("flight_id", "unique"), ("origin", "exists")} <= set(
        broken(in_memory)
    )


def test_a_recoded_column_blocks_alike_over_partitions(suite: SuiteSpec) -> None:
    # given a window whose carriers are all renamed (lower case) in most partitions
    bad = window()
    renamed = bad.index[: len(bad) * 3 // 4]
    bad.loc[renamed, "carrier"] = bad.loc[renamed, "carrier"].str.lower()
    # when
    in_memory, partitioned = both(bad, suite)
    # then both engines block on the recoding, in the same words
    assert partitioned == in_memory
    assert any(column == "carrier" and rule.startswith("mostly known categories") for column, rule in broken(in_memory))


def test_type_failures_give_the_same_words(suite: SuiteSpec) -> None:
    # given numbers arriving as text and timestamps as text, a few of them unparseable
    bad = window()
    bad["distance"] = bad["distance"].round().astype(str)
    bad["time_hour"] = bad["time_hour"].astype(str)
    bad.loc[bad.index[[5, 1700]], "time_hour"] = ["not a time", "yesterday"]
    # when
    in_memory, partitioned = both(bad, suite)
    # then
    assert partitioned == in_memory
    assert {("distance", "type numeric"), ("time_hour", "type datetime")} <= set(broken(in_memory))


def test_a_collapse_a_unit_shift_and_an_all_null_column_give_the_same_words(suite: SuiteSpec) -> None:
    # given distance in kilometres, one origin everywhere, no temperature at all and carrier mostly missing
    bad = window().assign(origin="JFK", temp=np.nan)
    bad["distance"] *= 1.609
    bad["carrier"] = bad["carrier"].where(np.arange(len(bad)) % 10 == 0)
    # when
    in_memory, partitioned = both(bad, suite)
    # then
    assert partitioned == in_memory
    assert ("distance", "no unit shift") in broken(in_memory)
    assert ("temp", "null share < 100% (not all null)") in broken(in_memory)
    assert any(column == "carrier" and "no surge" in rule for column, rule in broken(in_memory))


def test_a_move_that_crept_from_the_last_accepted_window_passes_alike_over_partitions(suite: SuiteSpec) -> None:
    # given distances x1.609 of the reference, where the last window accepted had them x1.4
    moved = window()
    moved["distance"] *= 1.609
    last = tuple(float(q) for q in (window()["distance"] * 1.4).quantile([0.25, 0.5, 0.75]))
    earlier: Earlier = {"distance": Accepted("2013-02-22", (last[0], last[1], last[2]))}
    # when
    in_memory, partitioned = both(moved, suite, earlier=earlier)
    # then both engines read a trend, in the same words, and keep the same quartiles
    assert partitioned == in_memory
    assert ("distance", "no unit shift") not in broken(in_memory)
    assert "a trend, not a unit change" in next(
        r["observed"] for r in in_memory["results"] if r["kind"] == "unit_shift" and r["column"] == "distance"
    )
    assert in_memory["quartiles"]["distance"][1] == pytest.approx(moved["distance"].median())


def test_labels_all_of_one_class_give_the_same_words(suite: SuiteSpec) -> None:
    # given a window whose 2,000 labels all came back 0 (a label feed fault)
    # when
    in_memory, partitioned = both(window().assign(delayed=0), suite)
    # then both block it on the same rule, and a window labelled as usual passes it in both
    assert partitioned == in_memory
    assert broken(in_memory) == [("delayed", "labels vary as in the reference")]
    clean_memory, clean_partitioned = both(window(), suite)
    assert clean_partitioned == clean_memory and ("delayed", "labels vary as in the reference") not in broken(
        clean_memory
    )


def test_stale_thin_data_and_empty_partitions_give_the_same_words(suite: SuiteSpec) -> None:
    # given two days of a week ago, split with empty partitions before, between and after
    thin = make_flights(20, seed=3, start="2013-03-20", days=2)
    parts = [thin.iloc[:0], thin.iloc[:8], thin.iloc[:0], thin.iloc[8:], thin.iloc[:0]]
    # when
    in_memory, partitioned = both(thin, suite, parts)
    # then
    assert partitioned == in_memory
    assert {(None, "freshness <= 72h"), (None, "volume 0.5x-2x reference")} <= set(broken(in_memory))


def test_a_broken_window_and_a_clean_one_do_not_compare_equal(suite: SuiteSpec) -> None:
    # given the same window, clean in memory and with a duplicate id over partitions
    clean = window()
    doubled = clean.copy()
    doubled.loc[doubled.index[1999], "flight_id"] = doubled.loc[doubled.index[0], "flight_id"]
    # when
    in_memory, _ = both(clean, suite)
    _, partitioned = both(doubled, suite)
    # then the comparison the parity tests rely on can fail
    assert partitioned != in_memory
    assert broken(partitioned) == [("flight_id", "unique")]


def test_checking_drift_in_the_same_pass_gives_both_reports(suite: SuiteSpec) -> None:
    # given a window with a hot spell and a duplicate, and a drift reference
    hot = window()
    hot.loc[hot.index[:600], "temp"] += 40
    hot.loc[hot.index[1999], "flight_id"] = hot.loc[hot.index[0], "flight_id"]
    reference = build_reference(make_flights(3000, seed=1), ["distance", "temp"], ["carrier", "origin"])
    kwargs = {"source": "w", "as_of": AS_OF, "freshness_hours": 72.0, "volume": VOLUME}
    reads = []

    def counted(frame: pd.DataFrame) -> pd.DataFrame:
        reads.append(list(frame.columns))
        return frame

    reduce = over_frames(split_frame(hot, 4))
    # when
    report, drift = check_window_partitioned(
        lambda summarise, merge, columns=None: reduce(lambda f: summarise(counted(f)), merge, columns),
        suite,
        reference,
        **kwargs,  # type: ignore[arg-type]
    )
    # then both equal the in-memory reports, and each partition's text columns were read once, for both
    assert report.to_dict() == validate_frame(hot, suite, engine="vectorised", **kwargs).to_dict()  # type: ignore[arg-type]
    assert drift.drifted_columns == ("temp",)
    assert [c.drifted for c in drift.columns] == [c.drifted for c in detect_drift(reference, hot).columns]
    assert sum("carrier" in columns for columns in reads) == 4


def test_serving_data_without_a_target_and_chosen_warnings_give_the_same_words(suite: SuiteSpec) -> None:
    # given a window as monitoring checks it: no label yet, ranges only warning, a few values out of range
    unlabelled = window().drop(columns=["delayed"])
    unlabelled.loc[unlabelled.index[5:9], "distance"] = 9000.0
    kwargs = {"source": "w", "as_of": AS_OF, "require_target": False, "warnings": ["range"]}
    # when
    in_memory = validate_frame(unlabelled, suite, engine="vectorised", **kwargs)  # type: ignore[arg-type]
    partitioned = validate_partitioned(over_frames(split_frame(unlabelled, 3)), suite, **kwargs)  # type: ignore[arg-type]
    # then the range rule warns on both, and nothing asks for the label
    assert partitioned.to_dict() == in_memory.to_dict()
    assert [w.rule for w in partitioned.warnings] == ["values in range [0, 6000]"] and partitioned.passed


@pytest.mark.parametrize("pool", [200, 20_000])  # most values repeat; most are distinct, a few repeat
@pytest.mark.parametrize("sizes", [(0, 5), (5, 0), (300, 40), (40, 300), (1000, 1000), (5000, 5000)])
def test_hash_counts_merge_counts_every_value_of_both_sides(sizes: tuple[int, int], pool: int) -> None:
    # given two partitions' values drawn from one pool (repeating within and across sides)
    rng = np.random.default_rng(sum(sizes))
    left, right = (pd.Series(rng.integers(0, pool, n)) for n in sizes)
    # when their hash counts are merged
    merged = HashCounts.of(left).merge(HashCounts.of(right))
    # then they are the counts of the values together, sorted by hash
    expected = HashCounts.of(pd.concat([left, right], ignore_index=True))
    for part in ("hashes", "repeated", "repeats"):
        assert np.array_equal(getattr(merged, part), getattr(expected, part)), part
    assert merged.duplicated_rows() == int(pd.concat([left, right]).duplicated(keep=False).sum())


def test_an_empty_column_gives_the_same_verdict_and_words(suite: SuiteSpec) -> None:
    # given a window whose carrier column holds no value at all (read as floats)
    bad = window().assign(carrier=float("nan"))
    # when
    in_memory, partitioned = both(bad, suite)
    # then the type is not judged alike, and the all-null rule speaks alike
    assert partitioned == in_memory
    assert ("carrier", "null share < 100% (not all null)") in broken(in_memory)
