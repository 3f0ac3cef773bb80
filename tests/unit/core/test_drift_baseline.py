"""What a window's drift is measured against: the span a stored-row reference reads, and when it stands down."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perennial.config import DriftReference
from perennial.core.contract import SuiteSpec
from perennial.core.drift import build_reference, detect_drift
from perennial.core.drift_baseline import reference_span, stored_baseline, training_baseline
from perennial.core.monitoring import PREDICTION, ChampionContext
from perennial.core.windows import Window, window_bounds

APRIL = window_bounds("week", dt.date(2013, 4, 1), None, dt.date(2013, 5, 1))


def rows(n: int, seed: int, temp: float = 15.0, version: str = "3") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temp": rng.normal(temp, 5.0, n),
            "carrier": rng.choice(["AA", "UA", "DL"], n),
            PREDICTION: rng.uniform(0, 1, n),
            "model_version": version,
        }
    )


def context(version: str = "3") -> ChampionContext:
    """A champion trained on rows around 15 degrees."""
    trained = rows(2000, seed=0).drop(columns="model_version")
    stats = build_reference(trained, ["temp", PREDICTION], ["carrier"])
    suite = SuiteSpec((), None, None, "y", (0, 1), 0.0, len(trained), 0.0, None, None)
    return ChampionContext(version, "run", stats, trained.head(100), None, suite)


@pytest.mark.parametrize(
    ("kind", "windows", "window", "span"),
    [
        ("week", 2, APRIL, (dt.date(2013, 3, 18), dt.date(2013, 4, 1))),
        (
            "day",
            3,
            window_bounds("day", dt.date(2013, 3, 1), None, dt.date(2013, 5, 1)),
            (dt.date(2013, 2, 26), dt.date(2013, 3, 1)),
        ),
        (
            "month",
            2,
            window_bounds("month", dt.date(2013, 1, 1), None, dt.date(2013, 5, 1)),
            (dt.date(2012, 11, 1), dt.date(2013, 1, 1)),
        ),
    ],
)
def test_a_rolling_reference_reads_the_windows_just_before(
    kind: Any, windows: int, window: Window, span: tuple[dt.date, dt.date]
) -> None:
    # when the span of a rolling reference is asked for
    found = reference_span(DriftReference(kind="rolling", windows=windows), kind, window)
    # then it is that many windows of the configured kind, ending where the window starts
    assert (found.start, found.end) == span
    assert f"the {windows} {kind}s before ({span[0]}..{span[1]})" == found.label


def test_a_year_earlier_reference_reads_the_same_window_a_year_before_leap_day_included() -> None:
    spec = DriftReference(kind="year_earlier")
    # when the window is a week in April, then the span is that week of the year before
    found = reference_span(spec, "week", APRIL)
    assert (found.start, found.end) == (dt.date(2012, 4, 1), dt.date(2012, 4, 8))
    # when the window starts on a leap day, then its year-earlier start is the 28th (there is no 29th)
    leap = reference_span(spec, "day", window_bounds("day", dt.date(2016, 2, 29), None, dt.date(2016, 3, 5)))
    assert (leap.start, leap.end) == (dt.date(2015, 2, 28), dt.date(2015, 3, 1))
    # and the training reference reads no stored rows
    with pytest.raises(ValueError, match="reads no stored rows"):
        reference_span(DriftReference(), "week", APRIL)


def test_stored_rows_of_the_champion_become_the_reference_and_absorb_a_shift_the_training_data_flags() -> None:
    # given a champion trained around 15 degrees, and two weeks stored around 35 (all scored by it)
    champion = context()
    spec = DriftReference(kind="rolling", windows=2, min_rows=500)
    span = reference_span(spec, "week", APRIL)
    warm = rows(1500, seed=1, temp=35.0)
    # when the stored rows are the reference
    baseline = stored_baseline(warm, span, spec, champion, sample_rows=200, seed=0)
    # then they are described with their span and rows, and every column is tested, scores included
    assert baseline.description == "the 2 weeks before (2013-03-18..2013-04-01), 1,500 stored rows"
    assert baseline.stats.columns == ("temp", PREDICTION, "carrier") and len(baseline.sample) == 200
    # and a window as warm does not drift against them, while it does against the training data
    window = rows(800, seed=2, temp=35.0).drop(columns="model_version")
    against_stored = detect_drift(baseline.stats, window)
    against_training = detect_drift(training_baseline(champion).stats, window)
    assert "temp" not in against_stored.drifted_columns and "temp" in against_training.drifted_columns


def test_a_thin_span_or_a_column_with_nothing_in_it_leaves_the_training_data_in_place_saying_why() -> None:
    champion = context()
    spec = DriftReference(kind="rolling", windows=2, min_rows=500)
    span = reference_span(spec, "week", APRIL)
    # when the span holds fewer stored rows than the minimum
    thin = stored_baseline(rows(499, seed=1), span, spec, champion, sample_rows=200, seed=0)
    # then the champion's training data stands in, and the description says instead of what and why
    assert thin.stats is champion.stats
    assert thin.description == (
        "the champion's training data (v3, 2,000 rows), instead of the 2 weeks before (2013-03-18..2013-04-01): "
        "499 stored rows < 500"
    )
    # when enough rows are stored, but one tested column is null on every one of them
    empty = stored_baseline(rows(600, seed=1).assign(temp=np.nan), span, spec, champion, sample_rows=200, seed=0)
    # then the training data stands in too, naming the column
    assert empty.stats is champion.stats and "column 'temp' has no finite values" in empty.description


def test_scores_of_another_version_are_left_out_and_a_long_span_is_sampled_down() -> None:
    champion = context(version="3")
    spec = DriftReference(kind="rolling", windows=2, min_rows=500, max_rows=1000)
    span = reference_span(spec, "week", APRIL)
    # given a span scored partly by v2 before v3 was promoted, longer than max_rows
    mixed = pd.concat([rows(1500, seed=1, version="2"), rows(1500, seed=3, version="3")], ignore_index=True)
    # when it becomes the reference
    baseline = stored_baseline(mixed, span, spec, champion, sample_rows=200, seed=0)
    # then the score column is not tested (v2's scores are not the champion's), the features are
    assert baseline.stats.columns == ("temp", "carrier")
    assert baseline.description.endswith("1,000 stored rows; scores not tested (scored by v2, v3, not v3 alone)")
    # and the features come from a seeded sample of max_rows rows
    assert baseline.stats.rows == 1000
    again = stored_baseline(mixed, span, spec, champion, sample_rows=200, seed=0)
    assert np.array_equal(again.stats.numeric["temp"].values, baseline.stats.numeric["temp"].values)
