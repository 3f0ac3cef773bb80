"""Where the rows come from and which columns play which role: the ``data`` section."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from perennial.config.base import Frozen
from perennial.config.runners import DataEngine


class FileSource(Frozen):
    """A file: CSV (compressed by its name's suffix: .gz .bz2 .xz .zip .zst), Parquet (a file or a
    partitioned directory) or JSON lines. ``perennial init`` sniffs the delimiter, decimal mark,
    missing-value marks and encoding and writes them here; a file that does not match them is an error that says what to set."""

    kind: Literal["csv", "parquet", "jsonl"]
    path: str
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV field separator")
    encoding: str = Field(default="utf-8", description="text encoding of CSV and JSON lines, e.g. latin-1")
    decimal: Literal[".", ","] = Field(default=".", description="CSV decimal mark: ',' where numbers read 3,14")
    thousands: Literal[",", ".", " ", "'"] | None = Field(
        default=None, description="CSV thousands separator where numbers read 1,001.5 or 1.570,0 (none by default)"
    )
    dayfirst_columns: tuple[str, ...] = Field(
        default=(),
        description="CSV columns of dates written day first (31/12/2021, 03/04/2021 for 3 April), read as "
        "dates; others are read as pandas guesses them, month first when ambiguous",
    )
    missing_marks: tuple[str, ...] = Field(
        default=(),
        description="CSV cells read as missing besides the empty cell and pandas' own (NA, null, NaN...), "
        "e.g. ['?'] as UCI files write a missing number",
    )
    text_columns: tuple[str, ...] = Field(
        default=(),
        description="CSV columns read as text as written, not as numbers: codes with leading zeros "
        "('02139', class '001'), which a number would turn into 2139 and 1",
    )
    skip_initial_space: bool = Field(
        default=False,
        description="CSV fields separated by a delimiter and a space ('39, State-gov, 77516' as UCI Adult "
        "writes them): the space is not part of the name or value",
    )

    @model_validator(mode="after")
    def _known_encoding(self) -> FileSource:
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding '{self.encoding}' (try utf-8, latin-1, cp1252)") from None
        if self.decimal == self.delimiter:
            raise ValueError(f"decimal and delimiter are both {self.delimiter!r}: a CSV cannot use one mark for both")
        if self.thousands is not None and self.thousands == self.decimal:  # as the delimiter it is quoted: fine
            raise ValueError(f"thousands and decimal are both {self.decimal!r}: a number cannot use one mark for both")
        return self


class SqlSource(Frozen):
    kind: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL; put credentials in ${ENV} references")
    query: str


Source = Annotated[FileSource | SqlSource, Field(discriminator="kind")]


class DatetimeFeature(Frozen):
    column: str
    parts: tuple[Literal["hour", "dayofweek", "month", "dayofyear", "is_weekend"], ...] = (
        "hour",
        "dayofweek",
    )


class Features(Frozen):
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    datetime: tuple[DatetimeFeature, ...] = ()
    # Categories rarer than this share are folded into one bucket: keeps one-hot small
    min_category_share: float = Field(default=0.001, ge=0, lt=1)

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw input columns the model reads, in a stable order."""
        return (*self.numeric, *self.categorical, *(d.column for d in self.datetime))

    def without(self, names: Iterable[str]) -> Features:
        """The same features less ``names`` (not re-validated: what is left was valid)."""
        gone = set(names)
        return self.model_copy(
            update={
                "numeric": tuple(c for c in self.numeric if c not in gone),
                "categorical": tuple(c for c in self.categorical if c not in gone),
                "datetime": tuple(d for d in self.datetime if d.column not in gone),
            }
        )

    @model_validator(mode="after")
    def _no_repeats(self) -> Features:
        cols = self.columns
        repeated = sorted({c for c in cols if cols.count(c) > 1})
        if repeated:
            raise ValueError(f"feature columns listed more than once: {repeated}")
        if not cols:
            raise ValueError("at least one feature column is needed")
        return self


LabelValue = bool | int | float | str


class Target(Frozen):
    """The label column and which of its two values is the positive class.

    ``data.target: diagnosis`` is short for ``{column: diagnosis}``. ``positive_label`` may be left
    out when the values make it plain (0/1, False/True, no/yes...); otherwise it is required.
    """

    column: str = Field(min_length=1, description="the label column: any two distinct values")
    positive_label: LabelValue | None = Field(
        default=None, description="the value that counts as positive (1); inferred from 0/1, false/true, no/yes"
    )


class Data(Frozen):
    source: Source
    id_column: str | None = Field(default=None, description="unique row id; none: a key from the row's content")
    time_column: str | None = Field(default=None, description="event time; none: random split, no freshness rules")
    target: Target
    features: Features
    engine: DataEngine = Field(
        default=DataEngine(), description="batch scoring in memory (pandas, the default) or over Dask partitions"
    )

    @model_validator(mode="before")
    @classmethod
    def _target_shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("target"), str):
            return {**raw, "target": {"column": raw["target"]}}
        return raw

    @model_validator(mode="after")
    def _roles_apart(self) -> Data:
        if self.target.column in self.features.columns:
            raise ValueError(f"target '{self.target.column}' is also listed as a feature (leakage)")
        if self.id_column is not None and self.id_column in self.features.columns:
            raise ValueError(f"id column '{self.id_column}' is also listed as a feature")
        return self
