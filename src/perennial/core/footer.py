"""A spreadsheet's footer in an exported table: a total row or notes under the data, read as records.

A sheet saved as CSV keeps what sat under its table: a "Total" row (every number a column's sum,
and, where the target is a quantity, a target that is the sum of all others) and lines such as
"Source: …". Read as rows they would be scored, monitored and, labelled, trained on; a note in a
number column also turns that column into text. Only the rows at the very end are looked at, and
only rows that say what they are, so a record holding the word "total" among its values is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

_SUMMARY = re.compile(r"^\s*(grand\s+|sub-?)?(totals?|sum|average|mean|count)\s*:?\s*$", re.IGNORECASE)
_NOTE = re.compile(r"^\s*(sources?|notes?|footnotes?|\*|©|\(c\)|data from|prepared by|generated)\b", re.IGNORECASE)
_LOOKED_AT = 8  # the footer of a sheet is a few lines; a table's own rows go on above it


@dataclass(frozen=True, slots=True)
class Footer:
    first: int  # position of its first row in the frame
    rows: int  # how many rows it spans (blank lines between them included)
    example: str  # the text that gave it away


def find_footer(frame: pd.DataFrame) -> Footer | None:
    """The trailing rows of ``frame`` that are a total or notes, not records; None when there are none."""
    if len(frame) < 2 or len(frame.columns) < 2:
        return None
    tail = frame.tail(_LOOKED_AT)
    texts = tail.astype("string").apply(lambda column: column.str.strip())
    filled = texts.notna() & (texts != "")
    first, example = None, None
    start = len(frame) - len(tail)
    for position in range(len(tail) - 1, -1, -1):
        cells = texts.iloc[position][filled.iloc[position]].tolist()
        if not cells:  # a line of empty fields (",,,,"): part of the footer, not a finding alone
            continue
        said = _note(cells, len(frame.columns)) or _summary(cells, frame, start + position)
        if said is not None:
            first, example = position, said
        elif len(cells) > len(frame.columns) / 2:  # a record: the footer, if any, ends below it
            break
        # a line filling at most half its fields, unrecognised ("see tab 2", a comment split at its
        # commas): the footer only if a total or a note sits above it, so the scan goes on up
    if first is None or example is None:
        return None
    return Footer(len(frame) - len(tail) + first, len(tail) - first, example)


def _note(cells: list[str], columns: int) -> str | None:
    """A note stands alone on its line (one filled field of several) and reads as one: "Source: …",
    or a sentence of a few words. Typed under the data, a note's commas split it over the next
    fields: "Source: …" leading at most half the fields is a note too."""
    if columns < 3:
        return None
    if len(cells) == 1 and (_NOTE.match(cells[0]) or len(cells[0].split()) >= 4):
        return cells[0]
    if 1 < len(cells) <= columns / 2 and _NOTE.match(cells[0]):
        return ", ".join(cells)
    return None


def _summary(cells: list[str], frame: pd.DataFrame, position: int) -> str | None:
    """A row led by "Total" (or sum, average…) that sums, or averages, the rows above it in some
    number column, or fills at most half its fields: a record that merely holds the word is neither."""
    if not _SUMMARY.match(cells[0]):
        return None
    if len(cells) <= len(frame.columns) / 2:
        return cells[0]
    above = frame.iloc[:position]
    for column in frame.columns:
        value = pd.to_numeric(pd.Series([frame[column].iloc[position]]), errors="coerce").iloc[0]
        numbers = pd.to_numeric(above[column], errors="coerce").dropna()
        if pd.isna(value) or len(numbers) < 2:
            continue
        if any(abs(value - agg) <= 0.01 * abs(agg) + 1e-9 for agg in (numbers.sum(), numbers.mean())):
            return cells[0]
    return None
