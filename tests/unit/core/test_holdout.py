from __future__ import annotations

import datetime as dt

import pandas as pd

from perennial.config import Config
from perennial.core.holdout import reach_back
from tests.conftest import make_flights


def test_a_holdout_with_enough_evidence_is_left_as_configured(tiny_config: Config) -> None:
    # given 4,000 rows over 120 days: March (the holdout) holds about 1,000 of them
    frame = make_flights(rows=4000, days=120)
    # when the split is checked for evidence (500 rows, 20 of each class by default)
    train_end, note = reach_back(frame, tiny_config)
    # then nothing moves
    assert (train_end, note) == (dt.date(2013, 3, 1), "")


def test_a_short_holdout_reaches_back_to_the_most_recent_rows_that_hold_the_evidence(tiny_config: Config) -> None:
    # given about 13 rows a day: March alone (the holdout) holds ~410 rows, fewer than 500
    frame = make_flights(rows=1600, days=120)
    times = frame["time_hour"]
    march = int(
        ((times >= pd.Timestamp("2013-03-01", tz="UTC")) & (times < pd.Timestamp("2013-04-01", tz="UTC"))).sum()
    )
    assert march < 500
    # when the split is checked for evidence
    train_end, note = reach_back(frame, tiny_config)
    # then the holdout starts on the day that gives it 500 rows (plus the rest of that day)
    held = int(((times >= pd.Timestamp(train_end, tz="UTC")) & (times < pd.Timestamp("2013-04-01", tz="UTC"))).sum())
    assert dt.date(2013, 2, 1) < train_end < dt.date(2013, 3, 1)
    assert 500 <= held < 530
    # and says what it did
    assert note == (
        f"the window from 2013-03-01 held {march:,} rows: reached back to {train_end} for the most recent labelled rows"
    )


def test_the_holdout_never_takes_more_than_half_the_rows(tiny_config: Config) -> None:
    # given 600 rows over 120 days: 450 up to the holdout's end, so 500 holdout rows cannot be had
    frame = make_flights(rows=600, days=120)
    # when the split is checked
    train_end, note = reach_back(frame, tiny_config)
    # then training keeps (about) half of the 450, and the words say it was capped
    train_rows = int((frame["time_hour"] < pd.Timestamp(train_end, tz="UTC")).sum())
    assert 200 <= train_rows <= 225
    assert "capped at half the rows" in note


def test_reaching_back_is_off_when_the_config_says_so(tiny_config: Config) -> None:
    frame = make_flights(rows=1000, days=120)
    gate = tiny_config.gate.model_copy(
        update={"min_evidence": tiny_config.gate.min_evidence.model_copy(update={"extend_holdout": False})}
    )
    assert reach_back(frame, tiny_config.model_copy(update={"gate": gate})) == (dt.date(2013, 3, 1), "")


def test_a_rare_class_pulls_the_holdout_further_back(tiny_config: Config) -> None:
    # given a target with only a handful of positives, the last 20 of them far back in January
    frame = make_flights(rows=4000, days=120)
    frame["delayed"] = 0
    positives = frame.index[frame["time_hour"] < pd.Timestamp("2013-01-20", tz="UTC")][-20:]
    frame.loc[positives, "delayed"] = 1
    # when the split is checked: 500 rows would fit in March, 20 positives need January
    train_end, _ = reach_back(frame, tiny_config)
    # then it reaches back as far as half the rows allow, and no further
    assert dt.date(2013, 2, 1) <= train_end < dt.date(2013, 3, 1)
