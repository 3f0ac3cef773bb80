"""Scenarios with a known truth, replayed through the real loop on small synthetic flights, their counts asserted.

The same runner as bench/scenarios.py (which replays the demo's flights): a champion, an injected
change, weekly windows through flows/simulate.py inline; the counts read against the truth.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from bench.scenarios import Plan, Scenario, run_challengers, run_scenario, scenarios
from perennial.core.scenarios import unmet
from tests.conftest import config_dict, make_flights

# make_flights: 4000 rows over 120 days from 2013-01-01; the label depends on temp and carrier B6
PLAN = Plan(
    time_column="time_hour",
    target="delayed",
    start=dt.date(2013, 4, 1),
    window="week",
    windows=4,
    shift_columns=("distance", "origin"),  # the label does not depend on them
    group=("origin", "EWR"),
    unit_column="distance",
    zero_column="temp",
    thin_rows_per_day=30 / 7,  # about 30 rows a week
    train_end=dt.date(2013, 3, 1),
)


def _scenario(key: str) -> Scenario:
    return next(s for s in scenarios() if s.key == key)


@pytest.fixture
def flights() -> pd.DataFrame:
    return make_flights(rows=4000, days=120)


def test_a_data_bug_is_blocked_as_invalid_data_and_never_retrained_on(
    flights: pd.DataFrame, tmp_path: Path, state: Path
) -> None:
    # given a champion, then distance in km in the second week and temp all zeros in the third
    scenario = _scenario("4")
    # when four weeks are replayed through the loop, drift alone asking for retrains
    counts, rows = run_scenario(scenario, flights, PLAN, config_dict(), tmp_path)
    # then both broken weeks are blocked as invalid data, the clean ones are not, and nothing retrains
    assert [r["event"] for r in rows][1:3] == ["perennial.data.invalid"] * 2
    assert (counts.invalid_blocked, counts.invalid, counts.clean_blocked) == (2, 2, 0)
    assert (counts.retrains, counts.promotions, counts.bad_promotions) == (0, 0, 0)
    assert unmet(counts, scenario.expect) == ()


def test_tiny_windows_are_never_retrained_on_too_little_evidence(
    flights: pd.DataFrame, tmp_path: Path, state: Path
) -> None:
    # given a champion, then a feed of about 30 rows a week from its training end, drifted from the second week
    scenario = _scenario("5")
    # when four weeks are replayed with a policy that retrains on drift alone
    counts, rows = run_scenario(scenario, flights, PLAN, config_dict(), tmp_path)
    # then neither drift nor performance is judged on so few rows: each window says so, nothing retrains
    assert counts.retrains == 0, rows
    assert "too few labels" in rows[1]["performance"] and rows[1]["drift share"] == "-"
    assert "drift not judged" in rows[1]["decision"] and "performance not measured" in rows[1]["decision"]
    assert (counts.promotions, counts.bad_promotions) == (0, 0)
    assert unmet(counts, scenario.expect) == ()


def test_a_harmless_covariate_shift_is_watched_not_retrained(
    flights: pd.DataFrame, tmp_path: Path, state: Path
) -> None:
    # given a champion, then from the second week a mix moved in columns the label does not depend on
    scenario = _scenario("1")
    raw = config_dict()
    raw["monitoring"] = {"min_drift_rows": 20}  # the test's weeks hold ~40 rows: drift judged on them
    # when four weeks are replayed with drift retraining only on a performance drop
    counts, rows = run_scenario(scenario, flights, PLAN, raw, tmp_path)
    # then drift is seen, yet nothing is retrained or promoted
    assert max(r["drift share"] for r in rows[1:] if r["drift share"] != "-") >= 0.5, rows
    assert (counts.retrains, counts.promotions) == (0, 0)
    assert unmet(counts, scenario.expect) == ()


def test_a_worse_challenger_is_never_promoted_and_a_better_one_is(
    flights: pd.DataFrame, tmp_path: Path, state: Path
) -> None:
    # given a champion on every row and a challenger on a sample, then the reverse
    (worse, worse_expected), (better, better_expected) = run_challengers(flights, PLAN, config_dict(), tmp_path, 0.05)
    # then the worse one stays a challenger and the better one becomes champion
    assert (worse.promotions, worse.bad_promotions) == (0, 0)
    assert (better.promotions, better.missed_improvements) == (1, 0)
    assert unmet(worse, worse_expected) == () and unmet(better, better_expected) == ()
