"""Which rows a refused monitoring window covers, by its stored label and the configured window kind."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from perennial.core.refused_windows import leave_out_refused, window_span


def test_a_label_covers_its_month_or_a_window_of_the_configured_kind_from_its_day() -> None:
    assert window_span("2024-06", "week") == (dt.date(2024, 6, 1), dt.date(2024, 7, 1))
    assert window_span("2024-06-03", "week") == (dt.date(2024, 6, 3), dt.date(2024, 6, 10))
    assert window_span("2024-06-03", "day") == (dt.date(2024, 6, 3), dt.date(2024, 6, 4))
    assert window_span("2024-06-03", "month") == (dt.date(2024, 6, 3), dt.date(2024, 7, 1))
    # a batch of a table without a time column covers no dates
    assert window_span("batch-20261204-101500", "batch") is None


def test_rows_in_a_refused_window_are_left_out_and_counted() -> None:
    # given a row a day through June and July, and June refused
    times = pd.Series(pd.date_range("2024-06-01", "2024-07-31", freq="D", tz="UTC"))
    frame = pd.DataFrame({"t": times, "x": range(len(times))})
    # when left out / then June's 30 rows are gone, July's 31 stay, and the note says so
    kept, left_out = leave_out_refused(frame, frame["t"], ["2024-06", "2023-01"], "month")
    assert len(kept) == 31 and kept["t"].min() == pd.Timestamp("2024-07-01", tz="UTC")
    assert (left_out.windows, left_out.rows) == (("2024-06",), 30)
    assert left_out.note("t").startswith("left out 30 rows of 't' in windows monitoring refused (2024-06)")
    # and nothing refused leaves everything, unsaid
    kept, left_out = leave_out_refused(frame, frame["t"], [], "month")
    assert len(kept) == len(frame) and left_out.note("t") == ""
