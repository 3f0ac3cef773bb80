"""Text columns of dates written in several formats: said as dates, with how to make them usable.

A column holding `2022-10-08`, `02/04/2021`, `Oct 08, 2022` and `20221008` is neither parsed as a
datetime (one format a column) nor a category (a value a day): init left it out as "an id or free
text", which hid both what it is and the one edit that makes it a feature.
"""

from __future__ import annotations

import re

import pandas as pd

SAMPLE = 200  # values looked at: enough to meet every format a column mixes, cheap to parse one by one
YEAR = r"(?<!\d)(?:19|20)\d{2}"  # a four-digit year, alone or leading 20221008: not 1.2.3
SHOWN_FORMATS = 4


def _shape(text: str) -> str:
    """How a value is written: digits as 9 and letters as a ('Oct 08, 2022' -> 'aaa 99, 9999')."""
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", text))


def several_date_formats(values: pd.Series) -> str | None:
    """Why a text column is dates written more than one way, or None: every value looked at holds a
    year and reads as a date, in two shapes or more."""
    if values.dtype != object:
        return None
    sample = values.dropna().astype(str).str.strip().head(SAMPLE)
    if sample.empty or not sample.str.contains(YEAR, regex=True).all():
        return None
    firsts = sample.groupby(sample.map(_shape), sort=False).first()
    if len(firsts) < 2 or pd.to_datetime(sample, errors="coerce", format="mixed").isna().any():
        return None
    shown = ", ".join(repr(v) for v in firsts.head(SHOWN_FORMATS))
    return (
        f"dates written in several formats ({shown}): write them one way (ISO 8601, e.g. 2022-10-08) to use "
        "them as a datetime feature or time column"
    )
