"""A monitoring window's bounds and name: a day, a week, a month, or one scoring batch (pure).

Scheduled runs monitor the last full window by the clock; a table of past years its own last
window; a table without a time column the scoring batch (or the window holding it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

WindowKind = Literal["day", "week", "month", "batch"]
BATCH_HAS_NO_DATES = (
    "monitoring.window is batch: a window is one scoring batch, not dates; monitor the latest "
    "(perennial monitor with no --start, after perennial score)"
)


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.date
    end: dt.date  # exclusive
    label: str  # "2013-07-01" (day, week), "2013-07" (month), "batch-20261203-214512" (one scoring batch)
    batch: dt.datetime | None = None  # a batch window: the scoring time stamped on its rows (no time column)
    scored_from: str | None = None  # a batch window's file of new rows (`score --data`); None: the config's source
    scored_inputs: str | None = None  # the fingerprint of that file's model inputs when it was scored

    @property
    def end_time(self) -> dt.datetime:
        if self.batch is not None:
            return self.batch
        return dt.datetime.combine(self.end, dt.time(), tzinfo=dt.UTC)


def batch_window(stamp: dt.datetime, scored_from: str | None = None, scored_inputs: str | None = None) -> Window:
    """One `perennial score` of a table without a time column: its rows, all stamped with its scoring time."""
    stamp = stamp.astimezone(dt.UTC)
    day = stamp.date()
    return Window(day, day + dt.timedelta(days=1), f"batch-{stamp:%Y%m%d-%H%M%S}", stamp, scored_from, scored_inputs)


def latest_batch(
    rows: pd.DataFrame,
    scored_from: Mapping[str, str],
    data: str | None = None,
    scored_inputs: Mapping[str, str] | None = None,
) -> Window | None:
    """The latest scoring batch of ``rows`` (the store's batch rows), or with ``data`` the latest one
    scored from that file; None when there is none.

    ``scored_from``: the file each scoring run read (by run id; a run absent read the config's source);
    ``scored_inputs``: the fingerprint of its model inputs, by run id, where the run recorded one.
    The batch carries its file so that monitoring reads the rows and labels of *that* file: without an
    id column a row is keyed by its content, and the config's source would lend its labels to every
    new row that happens to repeat one of its rows.
    """
    if rows.empty:
        return None
    runs = rows.get("run_id", pd.Series(pd.NA, index=rows.index)).fillna("")
    stamps = rows["scored_at"].groupby(runs.to_numpy()).max().sort_values()
    origins = pd.Series([scored_from.get(str(run)) for run in stamps.index], index=stamps.index, dtype="object")
    if data is not None:
        stamps = stamps[(origins == data).to_numpy()]
    if stamps.empty:
        return None
    run = stamps.index[-1]
    inputs = (scored_inputs or {}).get(str(run))
    return batch_window(pd.Timestamp(stamps.iloc[-1]).to_pydatetime(), origins[run], inputs)


def month_start(day: dt.date, months_ahead: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return dt.date(index // 12, index % 12 + 1, 1)


def label_start(label: str) -> dt.date | None:
    """The first day of the window ``window_bounds`` labelled so (a month "2013-08", a day or any
    other span its start's ISO date); None for a scoring batch, which has no time span."""
    try:
        return dt.date.fromisoformat(label if len(label) != 7 else f"{label}-01")
    except ValueError:
        return None


def retrain_start(retry_from: str | None, champion_from: dt.date | None, window: Window) -> dt.date | None:
    """The first day a retrain the loop asks for learns from; None: all history.

    A retry learns from its episode's first window (``retry_from``, a window label). And no retrain
    learns from before the champion's own first day when its training was cut there (a retry after a
    change, a person's ``--train-start``): those rows were judged stale, and a retrain that brings them
    back fails the gate and spends the episode's retrain. Only days before this window count.
    """
    starts = (label_start(retry_from) if retry_from else None, champion_from)
    return max((d for d in starts if d is not None and d < window.start), default=None)


def window_bounds(kind: WindowKind, start: dt.date | None, end: dt.date | None, today: dt.date) -> Window:
    """The window [start, end): explicit bounds, a start and the configured length, or the last full one."""
    if kind == "batch":
        raise ValueError(BATCH_HAS_NO_DATES)
    if start is None and end is not None:
        raise ValueError("window_end needs window_start")
    if start is None:
        if kind == "day":
            start = today - dt.timedelta(days=1)
        elif kind == "week":
            start = today - dt.timedelta(days=today.weekday() + 7)  # last full Monday-to-Sunday
        else:
            start = month_start(today, -1)
    if end is None:
        end = {"day": start + dt.timedelta(days=1), "week": start + dt.timedelta(days=7)}.get(kind) or month_start(
            start, 1
        )
    if end <= start:
        raise ValueError(f"window end {end} must be after its start {start}")
    monthly = kind == "month" and start.day == 1 and end == month_start(start, 1)
    return Window(start, end, start.strftime("%Y-%m") if monthly else start.isoformat())


def clock_or_data_window(kind: WindowKind, today: dt.date, latest: dt.date) -> tuple[Window, str]:
    """The last full window by the clock, unless the data ends before it starts (a table of past
    years, monitored by hand): then the data's own last full window, and a note saying so."""
    clock = window_bounds(kind, None, None, today)
    if latest >= clock.start:
        return clock, ""
    data = window_bounds(kind, None, None, latest + dt.timedelta(days=1))
    return data, (
        f"the data ends on {latest}, before the last full {kind} by the clock ({clock.start}): monitoring the "
        f"data's last full {kind}, {data.start} to {data.end} (--start and --end choose another)"
    )


def window_holding(kind: WindowKind, day: dt.date) -> Window:
    """The window of ``kind`` that holds ``day``: where a table without a time column is monitored,
    its rows being stamped with the time they were scored (so the latest scoring is the window)."""
    start = {"day": day, "week": day - dt.timedelta(days=day.weekday())}.get(kind) or day.replace(day=1)
    return window_bounds(kind, start, None, day)
