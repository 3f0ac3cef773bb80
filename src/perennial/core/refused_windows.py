"""Rows of windows monitoring refused stay out of training: a retrain must never learn from bad data.

Monitoring records each window's verdict by its label; a window that failed validation (a unit
change, a column gone null) is blocked from counting towards a retrain, and a retrain asked for by
a later window would still read the refused window's rows from the source unless they are left
out here. A window monitored again once its data is fixed is recorded valid, and its rows return.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from perennial.core.windows import WindowKind, month_start, window_bounds

_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class LeftOut:
    """What was left out: the refused windows that held rows, and how many rows they held."""

    windows: tuple[str, ...]
    rows: int

    def note(self, time_column: str) -> str:
        if not self.rows:
            return ""
        return (
            f"left out {self.rows:,} rows of '{time_column}' in windows monitoring refused ({', '.join(self.windows)}): "
            "never trained or judged on; monitor a window again once its data is fixed to bring its rows back"
        )


def window_span(label: str, kind: WindowKind) -> tuple[dt.date, dt.date] | None:
    """The dates [start, end) a stored window label covers: 'YYYY-MM' is a month, 'YYYY-MM-DD' a window
    of ``kind`` starting that day (the length monitoring gave it); a batch label covers no dates."""
    if _MONTH.match(label):
        start = dt.date.fromisoformat(f"{label}-01")
        return start, month_start(start, 1)
    if _DAY.match(label) and kind != "batch":
        start = dt.date.fromisoformat(label)
        window = window_bounds(kind, start, None, start)
        return window.start, window.end
    return None


def leave_out_refused(
    frame: pd.DataFrame, times: pd.Series, refused: list[str], kind: WindowKind
) -> tuple[pd.DataFrame, LeftOut]:
    """``frame`` without the rows whose UTC time falls in a refused window (``times`` aligned with it)."""
    inside = pd.Series(False, index=frame.index)
    holding = []
    for label in refused:
        span = window_span(label, kind)
        if span is None:
            continue
        start, end = (pd.Timestamp(d, tz="UTC") for d in span)
        these = (times >= start) & (times < end)
        if these.any():
            holding.append(label)
            inside |= these
    return frame.loc[~inside], LeftOut(tuple(holding), int(inside.sum()))
