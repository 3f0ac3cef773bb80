"""A unit change or a trend: a column's move is weighed against the reference and against the last
window accepted, so a target that grows steadily is learnt from and a unit change still blocks."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perennial.config import parse_config
from perennial.core.validation import ValidationReport, derive_suite, validate_frame
from perennial.core.validation_bounds import measure_variation, window_keys
from perennial.core.validation_labels import check_arrived_labels
from perennial.core.validation_units import Accepted, Earlier, measure, step_factor, unit_shift_rule
from tests.conftest import config_dict

MONTHS = 12
ROWS = 400  # a month's rows


def _monthly(levels: list[float], seed: int = 0) -> pd.DataFrame:
    """A month of ROWS fares per level: lognormal around 100 times the level, keyed by the month's first day."""
    rng = np.random.default_rng(seed)
    starts = pd.date_range("2023-01-01", periods=len(levels), freq="MS", tz="UTC")
    return pd.DataFrame(
        {
            "time_hour": np.repeat(starts, ROWS),
            "seats": rng.integers(50, 300, ROWS * len(levels)).astype(float),
            "fare": np.concatenate([level * rng.lognormal(np.log(100), 0.25, ROWS) for level in levels]),
        }
    )


def _variation(reference: pd.DataFrame) -> Any:
    return measure_variation(reference["fare"], window_keys(reference["time_hour"], "month"), numeric=True)


def test_a_move_from_the_reference_that_crept_from_the_last_window_is_a_trend() -> None:
    # given a year of fares, level within a few percent, as the reference
    variation = _variation(_monthly([1.0] * MONTHS))
    window = _monthly([1.6], seed=1)["fare"]
    measured = measure(window, variation)
    assert measured is not None
    # when a month arrives x1.6 of the reference, with or without a month accepted at x1.45 before it
    crept = unit_shift_rule("fare", measured, variation, Accepted("2024-04", (130.0, 145.0, 160.0)))
    alone = unit_shift_rule("fare", measured, variation, None)
    jumped = unit_shift_rule("fare", measured, variation, Accepted("2024-04", (84.0, 100.0, 118.0)))
    # then against the reference alone it is a unit shift; beside a month at x1.45 it is a trend, and its
    # text says both moves; beside a month at the reference's level it is a unit change, named so
    assert not alone.passed and alone.observed.startswith("every quartile moved by x1.5")
    assert crept.passed and crept.observed.endswith(" of 2024-04, the last window accepted: a trend, not a unit change")
    assert 1.05 < _step(crept.observed, "2024-04") < 1.15, crept.observed
    assert not jumped.passed and 1.5 < _step(jumped.observed, "2024-04") < 1.7, jumped.observed


def _step(observed: str, window: str) -> float:
    """The factor a rule's text says the window moved from ``window``."""
    found = re.search(rf"x([0-9.]+) of {window}, the last window accepted", observed)
    assert found, observed
    return float(found.group(1))


def test_the_step_is_one_factor_of_the_quartiles_or_of_the_spread_of_a_signed_column() -> None:
    assert step_factor(np.array([2.0, 4.0, 8.0]), (1.0, 2.0, 4.0)) == pytest.approx(2.0)
    assert step_factor(np.array([-20.0, 0.0, 20.0]), (-2.0, 0.1, 2.0)) == pytest.approx(10.0)  # spread x10
    assert step_factor(np.array([-1.0, 2.0, 4.0]), (1.0, 2.0, 4.0)) is None  # a quartile changed sign
    assert step_factor(np.array([0.0, 0.0, 0.0]), (-1.0, 0.0, 1.0)) is None  # no spread: no factor


def _judge_months(levels: list[float], suite: Any, remember: bool) -> list[ValidationReport]:
    """Each month's labels judged as monitoring judges them, in order; a passed month's quartiles are
    remembered for the next (as the monitor store keeps them) when ``remember``."""
    earlier: dict[str, Accepted] = {}
    reports = []
    for i, level in enumerate(levels):
        month = _monthly([level], seed=10 + i)
        data = validate_frame(month.drop(columns="fare"), suite, source=f"m{i}", require_target=False)
        report = check_arrived_labels(data, month["fare"], suite, earlier=dict(earlier) if remember else None)
        if report.passed:
            earlier.update({name: Accepted(f"m{i}", q) for name, q in report.quartiles})
        reports.append(report)
    return reports


def _fare_regression() -> Any:
    raw = config_dict()
    raw["task"] = "regression"
    raw["data"] = {
        "source": raw["data"]["source"],
        "time_column": "time_hour",
        "target": {"column": "fare"},
        "features": {"numeric": ["seats"], "categorical": []},
    }
    raw["evaluation"].pop("slices", None)
    raw["validation"] = {"window": "month"}
    raw["evaluation"]["primary_metric"] = "mae"
    raw["gate"]["min_lift_over_baseline"] = None
    raw["training"]["candidates"] = [{"name": "ridge", "family": "ridge"}]
    raw["monitoring"] = {"retraining": {"performance_tolerance": 5.0}}
    return parse_config(raw, "fares.yaml")


def test_a_target_growing_twelve_percent_a_month_is_learnt_from_and_a_unit_change_on_top_still_blocks() -> None:
    # given a regression contract on a year of fares at a steady level
    config = _fare_regression()
    suite = derive_suite(config, _monthly([1.0] * MONTHS))
    # when fares then grow x1.12 a month for eight months, and in a ninth and tenth month arrive in cents
    trend = [1.12**k for k in range(1, 9)]
    levels = [*trend, trend[-1] * 1.12 * 100, trend[-1] * 1.12**2 * 100]
    remembered, alone = _judge_months(levels, suite, remember=True), _judge_months(levels, suite, remember=False)
    # then, judged beside the last month accepted, every month of the trend passes and both months in cents
    # are refused (the second against the last month in dollars, not against the first in cents)
    assert [r.passed for r in remembered] == [True] * 8 + [False, False]
    shifted = [r for r in remembered[8].failures if r.kind == "unit_shift"]
    assert shifted and 100 < _step(shifted[0].observed, "m7") < 130, remembered[8].summary()
    assert 110 < _step(remembered[9].summary(), "m7") < 140
    # while the reference alone refused the trend from the month it passed x1.5 (x1.57, the fourth) on
    assert [r.passed for r in alone] == [True, True, True] + [False] * 7
    crept = [r for r in remembered[3].results if r.kind == "unit_shift" and r.column == "fare"]
    assert "a trend, not a unit change" in crept[0].observed


def test_the_report_keeps_the_watched_quartiles_it_measured_and_the_earlier_ones_reach_the_rule() -> None:
    config = _fare_regression()
    suite = derive_suite(config, _monthly([1.0] * MONTHS))
    month = _monthly([1.6], seed=3)
    earlier: Earlier = {"fare": Accepted("2024-04", (130.0, 145.0, 160.0))}
    judged = validate_frame(month, suite, source="may", earlier=earlier)
    plain = validate_frame(month, suite, source="may")
    # the training path (labels in the frame) weighs the earlier month too, and keeps what it measured
    assert judged.passed and not plain.passed
    assert dict(judged.quartiles)["fare"] == pytest.approx(tuple(month["fare"].quantile([0.25, 0.5, 0.75])))
    assert judged.to_dict()["quartiles"]["fare"] == pytest.approx(list(dict(judged.quartiles)["fare"]))
