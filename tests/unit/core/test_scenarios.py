"""Scenario injections leave rows before `since` alone and change only what they say; the counts read a replay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.core.scenarios import (
    Expectation,
    Truth,
    WindowRecord,
    concept_change,
    count_scenario,
    covariate_shift,
    sampled,
    scaled,
    stationary,
    thinned,
    unmet,
)

SINCE = pd.Timestamp("2013-01-05", tz="UTC")


def _frame(rows: int = 400, days: int = 10) -> pd.DataFrame:
    """Rows spread evenly over ``days`` days from 2013-01-01; `x` rises with the row, `group` alternates a/b."""
    times = pd.Timestamp("2013-01-01", tz="UTC") + pd.to_timedelta(np.linspace(0, days * 24 - 1, rows), unit="h")
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(rows)],
            "t": times,
            "x": np.arange(rows, dtype="float64") % 100,
            "group": np.where(np.arange(rows) % 2 == 0, "a", "b"),
            "y": (np.arange(rows) % 8 < 2).astype("int64"),  # 25% positive in each group
        }
    )


def _before(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame["t"] < SINCE].reset_index(drop=True)


def test_stationary_shuffles_times_among_rows_keeping_each_rows_features_and_label() -> None:
    # given rows whose x rises with time
    frame = _frame()
    # when their times are shuffled
    out = stationary(frame, "t", seed=1)
    # then the same rows and times are there, time-ordered, but x no longer follows time
    assert sorted(out["id"]) == sorted(frame["id"]) and out["t"].is_monotonic_increasing
    assert out.set_index("id").loc[frame["id"], ["x", "y"]].to_numpy().tolist() == frame[["x", "y"]].to_numpy().tolist()
    assert not out["id"].equals(frame["id"])


def test_covariate_shift_moves_the_mix_after_since_and_keeps_each_rows_label() -> None:
    # given rows with x spread evenly
    frame = _frame()
    # when the mix shifts towards high x from SINCE
    out = covariate_shift(frame, ["x"], "t", SINCE, power=3.0, seed=0)
    # then rows before SINCE are untouched, later rows are fewer and higher in x
    pd.testing.assert_frame_equal(_before(out), _before(frame))
    late_in, late_out = frame.loc[frame["t"] >= SINCE], out.loc[out["t"] >= SINCE]
    assert len(late_out) < 0.5 * len(late_in) and late_out["x"].mean() > late_in["x"].mean() + 15
    # and every kept row carries its own label
    assert out.set_index("id")["y"].equals(frame.set_index("id").loc[out["id"], "y"])
    # and power 0 is no shift at all
    pd.testing.assert_frame_equal(covariate_shift(frame, ["x"], "t", SINCE, power=0.0), frame)


def test_a_gradual_covariate_shift_grows_from_since_to_until() -> None:
    frame = _frame(rows=4000)
    out = covariate_shift(frame, ["x"], "t", SINCE, power=3.0, until=pd.Timestamp("2013-01-11", tz="UTC"))
    early = out.loc[(out["t"] >= SINCE) & (out["t"] < pd.Timestamp("2013-01-06", tz="UTC")), "x"].mean()
    late = out.loc[out["t"] >= pd.Timestamp("2013-01-10", tz="UTC"), "x"].mean()
    assert late > early + 10


def test_concept_change_turns_negatives_positive_in_one_group_after_since_only() -> None:
    # given a 25% positive rate in both groups
    frame = _frame(rows=4000)
    # when group a's relationship changes from SINCE
    out = concept_change(frame, "y", "group", "a", "t", SINCE, rate=0.6, seed=0)
    # then group a after SINCE is mostly positive; group b and earlier rows are unchanged
    after = out["t"] >= SINCE
    assert out.loc[after & (out["group"] == "a"), "y"].mean() == pytest.approx(0.25 + 0.75 * 0.6, abs=0.05)
    assert out.loc[~after | (out["group"] == "b"), "y"].equals(frame.loc[~after | (frame["group"] == "b"), "y"])
    # and the features did not move
    assert out[["x", "group", "t"]].equals(frame[["x", "group", "t"]])


def test_a_unit_change_and_a_thin_feed_touch_only_their_span() -> None:
    frame = _frame()
    until = pd.Timestamp("2013-01-06", tz="UTC")
    km = scaled(frame, "x", 1.609, "t", SINCE, until)
    inside = (frame["t"] >= SINCE) & (frame["t"] < until)
    assert np.allclose(km.loc[inside, "x"], frame.loc[inside, "x"] * 1.609)
    assert km.loc[~inside, "x"].equals(frame.loc[~inside, "x"])
    thin = thinned(frame, "t", SINCE, rows_per_day=4, seed=0)
    late = thin.loc[thin["t"] >= SINCE]
    assert late.groupby(late["t"].dt.floor("D")).size().tolist() == [4] * 6  # every day of the feed, 4 rows
    assert len(_before(thin)) == len(_before(frame))
    half = thinned(frame, "t", SINCE, rows_per_day=2.5, seed=0)
    late = half.loc[half["t"] >= SINCE]
    assert set(late.groupby(late["t"].dt.floor("D")).size()) == {2, 3}


def test_sampled_keeps_a_share_before_the_cut_and_every_row_after() -> None:
    frame = _frame(rows=4000)
    out = sampled(frame, "t", SINCE, share=0.1, seed=0)
    assert len(_before(out)) == pytest.approx(0.1 * len(_before(frame)), rel=0.3)
    assert (out["t"] >= SINCE).sum() == (frame["t"] >= SINCE).sum()


def _row(window: str, event: str = "-", champion: str = "v1", gate: str | None = None) -> dict[str, str]:
    row = {"window": window, "event": event, "champion": champion}
    return row | ({"retrain": "train (inline) x (Completed)", "gate": gate} if gate else {})


def test_a_window_record_reads_the_simulate_row() -> None:
    blocked = WindowRecord.from_row(_row("w1", "perennial.data.invalid"))
    promoted = WindowRecord.from_row(_row("w2", "perennial.drift.detected", "v1 → v2", "passed"))
    quiet = WindowRecord.from_row(_row("w3"))
    assert (blocked.blocked, blocked.retrained, blocked.promoted) == (True, False, False)
    assert (promoted.blocked, promoted.retrained, promoted.promoted, promoted.gate) == (False, True, True, "passed")
    assert (quiet.event, quiet.retrained, quiet.promoted) == (None, False, False)


def test_counts_a_concept_change_promoted_in_time() -> None:
    # given a change at w2, asked for at w3 and promoted there
    rows = [_row("w1"), _row("w2"), _row("w3", "perennial.performance.degraded", "v1 → v2", "passed"), _row("w4")]
    records = [WindowRecord.from_row(r) for r in rows]
    counts = count_scenario("2", records, Truth(changed_at="w2", improvable_from="w2"), [1])
    assert (counts.retrains, counts.promotions, counts.bad_promotions, counts.missed_improvements) == (1, 1, 0, 0)
    assert counts.detection_delay == 1 and counts.row()["detection delay"] == "1"
    assert unmet(counts, Expectation(retrains=1, promotions=1)) == ()
    # and one window too late it is a missed improvement
    late = count_scenario("2", records, Truth(changed_at="w2", improvable_from="w2", promote_within=1), [1])
    assert late.missed_improvements == 1 and "1 missed improvements" in unmet(late, Expectation())


def test_counts_a_promotion_without_a_change_as_bad_and_blocking_as_clean_or_not() -> None:
    rows = [
        _row("w1", "perennial.data.invalid"),
        _row("w2", "perennial.data.invalid"),
        _row("w3", "perennial.drift.detected", "v1 → v2", "passed"),
    ]
    records = [WindowRecord.from_row(r) for r in rows]
    counts = count_scenario("4", records, Truth(invalid=frozenset({"w1"})), [1])
    assert (counts.bad_promotions, counts.clean_blocked, counts.invalid_blocked, counts.invalid) == (1, 1, 1, 1)
    assert counts.detection_delay is None and counts.row()["detection delay"] == "-"
    assert unmet(counts, Expectation(retrains=0)) == (
        "1 retrains, expected 0",
        "1 bad promotions",
        "1 clean windows blocked",
    )


def test_an_undetected_change_and_too_many_retrains_in_an_episode_are_unmet() -> None:
    records = [WindowRecord.from_row(_row("w1", gate=None)), WindowRecord.from_row(_row("w2"))]
    counts = count_scenario("3", records, Truth(changed_at="w1"), [2, 0])
    assert counts.row()["detection delay"] == "not detected" and counts.episodes == 2
    assert unmet(counts, Expectation(max_retrains_per_episode=1)) == ("2 retrains in one episode, expected at most 1",)
    assert unmet(counts, Expectation(max_retrains_per_episode=2)) == ()
