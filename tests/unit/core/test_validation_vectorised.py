"""The vectorised column checks reach Great Expectations' verdicts, with its wording, on failing data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.core import validation_gx, validation_vectorised
from perennial.core.validation import derive_suite, validate_frame
from perennial.core.validation_gx import ColumnCheck
from tests.unit.core.test_validation import config, frame

RANGE = {"min_value": 0, "max_value": 100}

# each check beside a variant of it that the same column fails (or passes) by a hair
CHECKS = [
    ColumnCheck("x", "exists", "exists"),
    ColumnCheck("gone", "exists", "exists"),
    ColumnCheck("x", "not null", "not_null"),
    ColumnCheck("x", "null share <= 20%", "not_null", mostly=0.8),
    ColumnCheck("x", "null share <= 10%", "not_null", mostly=0.9),
    ColumnCheck("x", "values in range [0, 100]", "between", RANGE),
    ColumnCheck("x", "values in range [0, 100] mostly", "between", RANGE, mostly=0.8),
    ColumnCheck("x", "values >= 0", "between", {"min_value": 0, "max_value": None}),
    ColumnCheck("x", "values <= 5", "between", {"min_value": None, "max_value": 5}),
    ColumnCheck("c", "in set", "in_set", {"value_set": ["a", "b"]}),
    ColumnCheck("c", "in set, 30% unseen allowed", "in_set", {"value_set": ["a", "b"]}, mostly=0.7),
    ColumnCheck("c", "in set, all", "in_set", {"value_set": ["a", "b", "z", "q"]}),
    ColumnCheck("id", "unique", "unique"),
    ColumnCheck("ok", "unique", "unique"),
    ColumnCheck("empty", "not null", "not_null"),
    ColumnCheck("empty", "values in range", "between", RANGE),
    ColumnCheck("empty", "in set", "in_set", {"value_set": ["a"]}),
    ColumnCheck("t", "values in range on text", "between", RANGE),
]


def data() -> pd.DataFrame:
    """Ten rows: 2 nulls in x, one value out of range, unseen categories, a duplicated id."""
    return pd.DataFrame(
        {
            "x": [1.0, np.nan, 250.0, 3.0, np.nan, 50.0, -7.0, 99.0, 100.0, 0.0],
            "c": ["a", "b", "z", None, "a", "q", "z", "b", "a", "a"],
            "id": ["f1", "f2", "f3", "f2", "f5", "f6", "f7", "f1", "f9", "f10"],
            "ok": list(range(10)),
            "empty": [None] * 10,
            "t": list("abcdefghij"),
        }
    )


@pytest.mark.parametrize("rows", [10, 0, 3])
def test_every_check_has_the_same_verdict_and_wording_in_both_engines(rows: int) -> None:
    # given checks that pass and checks that fail, on all rows, none, and the first three
    frame_ = data().head(rows)
    # when both engines run them
    gx = validation_gx.run_checks(frame_, CHECKS)
    ours = validation_vectorised.run_checks(frame_, CHECKS)
    # then every verdict is the same, and so is the observed text (GX's error text may differ)
    assert [passed for passed, _ in ours] == [passed for passed, _ in gx]
    same_text = [(o, g) for (_, o), (_, g) in zip(ours, gx, strict=True) if not g.startswith("could not be checked")]
    assert [o for o, _ in same_text] == [g for _, g in same_text]
    if rows == 10:  # and the agreement is not vacuous: both engines fail some checks, pass others
        verdicts = [passed for passed, _ in ours]
        assert verdicts.count(False) >= 8 and verdicts.count(True) >= 5


def test_a_range_check_on_text_is_an_error_in_both_engines() -> None:
    check = ColumnCheck("t", "values in range [0, 100]", "between", RANGE)
    [(ours, observed)] = validation_vectorised.run_checks(data(), [check])
    [(gx, _)] = validation_gx.run_checks(data(), [check])
    assert not ours and not gx and observed.startswith("could not be checked: ")


@pytest.mark.parametrize(
    "break_it",
    [
        lambda f: f,  # nothing wrong: both pass
        lambda f: f.assign(temp=f["temp"] + 500),  # out of range
        lambda f: f.assign(carrier="ZZ"),  # every category unseen
        lambda f: f.assign(flight_id="same"),  # ids not unique
        lambda f: f.assign(distance=np.nan),  # nulls past the bound
        lambda f: f.drop(columns=["origin"]),  # a column missing
        lambda f: f.assign(delayed=f["delayed"] + 2),  # labels outside {0, 1}
    ],
)
def test_a_whole_contract_reports_the_same_in_both_engines(break_it) -> None:
    # given the contract of a clean frame and a frame broken one way (or not at all)
    suite = derive_suite(config(), frame())
    broken = break_it(frame())
    # when each engine validates it
    gx = validate_frame(broken, suite, source="new.parquet", engine="gx")
    ours = validate_frame(broken, suite, source="new.parquet", engine="vectorised")
    # then the two reports are equal, result by result
    assert ours.results == gx.results
    assert ours.passed == gx.passed


def test_the_reports_differ_when_the_data_does() -> None:
    # given the same contract, a clean and a broken frame: the comparison above can see a difference
    suite = derive_suite(config(), frame())
    clean = validate_frame(frame(), suite, source="new.parquet", engine="vectorised")
    broken = validate_frame(frame().assign(temp=999.0), suite, source="new.parquet", engine="vectorised")
    assert clean.passed and not broken.passed
    assert clean.results != broken.results
