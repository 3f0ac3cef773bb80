"""The data contract's declared rules: the ``validation`` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from perennial.config.base import Frozen


class Freshness(Frozen):
    max_age_hours: float = Field(gt=0)


class Volume(Frozen):
    """Rows per day of the new data, as a ratio of the reference's rows per day."""

    min_ratio: float = Field(default=0.5, gt=0)
    max_ratio: float = Field(default=2.0, gt=0)


# rule kinds that can warn instead of block (core/validation_bounds.py: WARNABLE)
WarnableRule = Literal[
    "nulls",
    "null_surge",
    "categories",
    "range",
    "unique",
    "freshness",
    "volume",
    "collapse",
    "unit_shift",
    "label_signal",
]


class Validation(Frozen):
    # a column may have at most the null share of the reference's worst window (of the size below)
    # plus this margin; smaller windows get the binomial's chance variation on top
    null_margin: float = Field(default=0.05, ge=0, le=1)
    # the window size the reference's variation is measured at; default: monitoring.window
    window: Literal["day", "week", "month"] | None = None
    # broken rules of these kinds are recorded and shown but block nothing (schema, types, all-null
    # columns, labels and a categorical column mostly of unseen values, a recoding, always block; a
    # column far more missing than any reference window, null_surge, blocks unless listed here)
    warnings: tuple[WarnableRule, ...] = ("nulls", "volume", "categories")
    # share of values outside the reference's categories a column may carry (new routes...)
    max_unseen_category_share: float = Field(default=0.01, ge=0, le=1)
    # physical bounds: numeric ranges are declared, never guessed from a season of data
    ranges: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    freshness: Freshness | None = None
    volume: Volume | None = Volume()
