"""Training-data profile and its diff against the previous champion's, on tiny frames."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from perennial.core.profile import DataProfile, diff_profiles, profile_frame
from tests.conftest import make_flights


def test_profile_reports_types_missing_ranges_quantiles_top_categories_and_association(tiny_config) -> None:
    # given flights where a warmer day raises the delay rate, and a few missing temperatures
    frame = make_flights(rows=2000)
    frame.loc[:99, "temp"] = np.nan
    # when profiled
    profile = profile_frame(frame, tiny_config)
    # then every input column and the target are described
    assert [c.name for c in profile.columns] == ["distance", "temp", "carrier", "origin", "time_hour", "delayed"]
    temp = profile.column("temp")
    assert temp.role == "numeric" and temp.missing_share == pytest.approx(0.05)
    assert temp.minimum < temp.quantiles["p50"] < temp.maximum
    assert temp.association > 0.2  # warm → delayed
    assert abs(profile.column("distance").association) < 0.1  # no signal by construction
    carrier = profile.column("carrier")
    assert set(carrier.top) == {"AA", "B6", "DL", "UA"} and sum(carrier.top.values()) == pytest.approx(1.0)
    assert carrier.association > profile.column("origin").association  # B6 drives delays, origin does not
    assert profile.column("time_hour").minimum.startswith("2013-01-01")
    assert profile.positive_rate == pytest.approx(frame["delayed"].mean())


def test_profile_round_trips_through_json_and_renders(tiny_config) -> None:
    # given a profile / when written as JSON and read back
    profile = profile_frame(make_flights(rows=500), tiny_config)
    again = DataProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    # then it is equal, and both renderings name every column
    assert again == profile
    for text in (profile.to_html(), profile.summary_markdown()):
        assert all(c.name in text for c in profile.columns)


def test_diff_names_what_moved_and_ignores_what_did_not(tiny_config) -> None:
    # given a profile, and a later one with warmer weather, a new carrier, more missing distances
    before = profile_frame(make_flights(rows=2000, seed=1), tiny_config)
    later = make_flights(rows=2000, seed=2).assign(temp=lambda f: f["temp"] + 15)
    later.loc[:400, "carrier"] = "WN"
    later.loc[:200, "distance"] = np.nan
    after = profile_frame(later, tiny_config)
    # when diffed
    diff = diff_profiles(before, after, "champion v1")
    found = {(c.column, c.what) for c in diff.changes}
    # then the shift, the new category and the missing share are named; the untouched origin is not
    assert {("temp", "shift"), ("carrier", "categories"), ("distance", "missing")} <= found
    assert not any(column == "origin" for column, _ in found)
    assert "WN" in next(c.note for c in diff.changes if c.what == "categories")
    assert "champion v1" in diff.to_markdown()


def test_diff_lists_added_and_removed_columns(tiny_config) -> None:
    # given two profiles whose column sets differ
    full = profile_frame(make_flights(rows=300), tiny_config)
    fewer = DataProfile(
        full.rows, full.target, full.positive_rate, full.window, tuple(c for c in full.columns if c.name != "origin")
    )
    # when diffed both ways / then the column is removed one way and added the other
    assert ("origin", "removed") in {(c.column, c.what) for c in diff_profiles(full, fewer).changes}
    assert ("origin", "added") in {(c.column, c.what) for c in diff_profiles(fewer, full).changes}


def test_profiling_a_frame_without_a_configured_column_names_it(tiny_config) -> None:
    # given a frame missing a feature / when profiled / then the error names it
    with pytest.raises(ValueError, match="temp"):
        profile_frame(make_flights(rows=50).drop(columns=["temp"]), tiny_config)


def test_a_regression_targets_level_reads_as_a_mean_not_a_rate(tiny_config) -> None:
    # given two profiles of a delay in minutes: its mean went from 151.3 to 199.0 (a regression target)
    base = profile_frame(make_flights(rows=300), tiny_config)
    before = DataProfile(base.rows, "delay_minutes", 151.3, base.window, base.columns)
    after = DataProfile(base.rows, "delay_minutes", 199.0, base.window, base.columns)
    # when diffed / then the move is the target's mean in its units, not "15130.0% -> 19900.0%"
    moved = [c for c in diff_profiles(before, after).changes if c.column == "delay_minutes"]
    assert [(c.what, c.before, c.after) for c in moved] == [("target mean", "151.3", "199")]
    assert "delay_minutes mean 199" in after.summary_markdown() and "%" not in after.summary_markdown().split("\n")[0]
    # while a mean that moved 2% is not named, and a binary rate still reads as a rate
    assert not [
        c for c in diff_profiles(before, replace(before, positive_rate=154.3)).changes if c.column == "delay_minutes"
    ]
    assert "rate" in base.summary_markdown().split("\n")[0]
