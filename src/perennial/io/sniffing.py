"""What ``perennial init`` guesses about a CSV from its values (the delimiter is sniffed from the
file's text, in ``sources``): the decimal and thousands marks, the cells that stand for a missing
number, fields written after ', ', and columns of dates written day first. Each guess is written
into the starter config as a plain key, so the runtime reads the file exactly as it was profiled.
Also the partition keys of a Parquet directory, which init leaves out of the features, and a file
that is no text at all (a database file), which init refuses before reading it as a CSV.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_GROUPED_DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(?:[. ']\d{3})+(?:,\d+)?$")  # 1.570,0
_WHOLE = re.compile(r"^[+-]?\d+$")


def sniff_decimal(frame: pd.DataFrame) -> str:
    """',' when some text columns of a CSV's first rows hold only numbers written 3,14 (and whole
    numbers), else '.': a `;`-separated European file read with the default would see them as text."""
    for values in (frame[c].dropna().astype(str).str.strip() for c in frame.columns if frame[c].dtype == object):
        comma = values.str.match(_DECIMAL_COMMA) | values.str.match(_GROUPED_DECIMAL_COMMA)
        if len(values) and comma.any() and (comma | values.str.match(_WHOLE)).all():
            return ","
    return "."


def sniff_thousands(frame: pd.DataFrame, decimal: str) -> str | None:
    """The thousands separator of text columns holding only numbers written 1,001.5 (or 1.570,0 with
    a decimal comma) and plain ones; None when no column does (a number is never guessed apart)."""
    for mark in (",", ".", " ", "'"):
        if mark == decimal:
            continue
        grouped = re.compile(rf"^[+-]?\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+(?:{re.escape(decimal)}\d+)?$")
        plain = re.compile(rf"^[+-]?\d+(?:{re.escape(decimal)}\d+)?$")
        for column in (c for c in frame.columns if frame[c].dtype == object):
            values = frame[column].dropna().astype(str).str.strip()
            if not _all_numbers(values.head(SNIFF_HEAD), grouped, plain):  # a word early on: not numbers
                continue
            hit = values.str.match(grouped)
            if len(values) and hit.any() and (hit | values.str.match(plain)).all():
                return mark
    return None


# a rule that needs every value of a column is tried on its first values first: a text column fails
# there in microseconds, not after a regex over a million rows each (init on 1M rows: 7 s)
SNIFF_HEAD = 1_000


def _all_numbers(values: pd.Series, grouped: re.Pattern[str], plain: re.Pattern[str]) -> bool:
    return bool((values.str.match(grouped) | values.str.match(plain)).all())


# marks public tables write for a missing value that pandas does not read as one by default; ""
# stands for a cell of blanks (Telco churn's TotalCharges writes ' ' for a customer not yet billed)
MISSING_MARKS = ("?", "-", "--", ".", "", "\u2014", "\u2013", "unknown", "missing", "n.a.", "n/d")  # — and –: dashes


def sniff_missing_marks(frame: pd.DataFrame, keep: str | None = None) -> tuple[str, ...]:
    """The cells, as written, that stand for a missing number: a text column holding only numbers and
    one of ``MISSING_MARKS`` ('?' in UCI files, ' ') is a numeric column with gaps, not a category.
    A mark the ``keep`` column (the target) holds is not one: read as missing in every column, its
    class would vanish from the target."""
    found: set[str] = set()
    for column in (c for c in frame.columns if frame[c].dtype == object):
        values = frame[column].dropna().astype(str)
        marks = values[values.str.strip().str.lower().isin(MISSING_MARKS)]  # 'Unknown' as 'unknown'
        rest = values[~values.index.isin(marks.index)]
        if len(marks) and len(rest) and pd.to_numeric(rest, errors="coerce").notna().all():
            found.update(marks.unique())
    if keep is not None and keep in frame.columns:
        found -= set(frame[keep].dropna().astype(str))
    return tuple(sorted(found))


_CODE = re.compile(r"^\d+$")


def sniff_leading_zeros(text: pd.DataFrame) -> tuple[str, ...]:
    """Columns, read as written, of whole numbers some of which start with a zero ('02139', '001'):
    codes, whose zeros a number would drop (a served '02139' refused, a class '003' answered as 3)."""
    found = []
    for column in text.columns:
        values = text[column].dropna().astype(str).str.strip()
        if (
            len(values)
            and values.str.match(_CODE).all()
            and (values.str.startswith("0") & (values.str.len() > 1)).any()
        ):
            found.append(str(column))
    return tuple(found)


def sniff_initial_space(frame: pd.DataFrame) -> bool:
    """Fields written after the delimiter and a space: every name but the first starts with one, or
    every text column's values do (UCI Adult: '39, State-gov, 77516, Bachelors')."""
    names = [str(c) for c in frame.columns[1:]]
    if names and all(n.startswith(" ") and n.strip() for n in names):
        return True
    texts = [frame[c].dropna().astype(str) for c in frame.columns[1:] if frame[c].dtype == object]
    texts = [t for t in texts if len(t)]
    return bool(texts) and all(bool(t.str.startswith(" ").all()) for t in texts)


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


def _date_parts(values: pd.Series) -> pd.DataFrame | None:
    """The first two numbers of each value written as a numeric date (31/12/2021: 31, 12), or None
    when some value is not one."""
    text = values.dropna().astype(str)
    parts = text.str.extract(_NUMERIC_DATE).dropna().astype(int)
    return parts if len(parts) == len(text) else None


def sniff_dayfirst(frame: pd.DataFrame) -> tuple[str, ...]:
    """Text columns of dates written day first: some read 31/12 (a first number above 12), none 12/31."""
    found = []
    for column in (c for c in frame.columns if frame[c].dtype == object):
        parts = _date_parts(frame[column])
        if parts is not None and len(parts) and (parts[0] > 12).any() and not (parts[1] > 12).any():
            found.append(str(column))
    return tuple(found)


def still_day_first(values: pd.Series) -> bool:
    """A column a config reads day first still holds such dates in a new file: every value a numeric
    date and none provably month first (12/31). An ISO date (2021-03-04) read day first is swapped."""
    parts = _date_parts(values)
    return parts is not None and not (parts[1] > 12).any()


def partition_keys(path: Path) -> tuple[str, ...]:
    """The Hive partition keys of a Parquet directory (`year` of `readings/year=2022/`), outermost
    first. The reader adds each as a column though no file holds it: a new-rows file or a served
    record never carries it, and as a feature it is a coarse copy of where, or when, rows were written."""
    if not path.is_dir():
        return ()
    keys: dict[str, None] = {}
    for folder in sorted(p for p in path.rglob("*=*") if p.is_dir()):
        keys.update((part.split("=", 1)[0], None) for part in folder.relative_to(path).parts if "=" in part)
    return tuple(keys)


SQLITE_HEADER = b"SQLite format 3\x00"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 text holds NUL bytes too: not judged binary here


def binary_kind(path: Path) -> str | None:
    """What a file named like no table is when its first bytes are not text: 'a SQLite database'
    (its header), 'a binary file' (a NUL byte, which no CSV or JSON line holds), or None. Read as a
    CSV such bytes gave "malformed CSV: Expected 1 fields in line 3", which says nothing of the cause."""
    with path.open("rb") as stream:
        head = stream.read(4096)
    if head.startswith(SQLITE_HEADER):
        return "a SQLite database"
    if b"\x00" in head and not head.startswith(UTF16_BOMS):
        return "a binary file"
    return None
