"""The data contract: what new data must look like, derived once from the config and a reference window.

``derive_suite`` turns the config's declared rules and the reference window's observed facts
(null shares, categories, rows per day, how each column varied between windows) into a
JSON-serialisable ``SuiteSpec``, stored with the model; ``core/validation`` checks frames against it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

from perennial.config import Config
from perennial.core.data import epoch_unit
from perennial.core.validation_bounds import DEFAULT_WARNINGS, ColumnVariation, measure_variation, window_keys

Kind = Literal["id", "datetime", "numeric", "categorical", "target"]
SUITE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    kind: Kind
    max_null_share: float
    range: tuple[float | None, float | None] | None = None  # declared in config, never learned
    categories: tuple[Any, ...] | None = None  # the reference's values, for categorical columns
    variation: ColumnVariation | None = None  # how it varied between reference windows (None: older contracts)
    # categorical: the share of the reference's rows whose value appears only once, Good-Turing's
    # estimate of how often a new row brings a value never seen (a cabin number: often; a carrier: never)
    novelty: float | None = None


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """The data contract of one reference window (usually a model's training data)."""

    columns: tuple[ColumnSpec, ...]
    id_column: str | None  # None: rows are keyed by their content (core/data.row_keys)
    time_column: str | None  # None: no freshness or per-day volume to judge
    target: str
    target_values: tuple[
        Any, ...
    ]  # binary: the 0/1 codes (the user's labels travel as core/target.Labels); multiclass the reference's classes; regression () (numeric)
    max_unseen_category_share: float
    reference_rows: int
    reference_rows_per_day: float
    reference_start: str | None  # ISO-8601 UTC, for the record (None: no timestamps)
    reference_end: str | None
    task: str = "binary"
    window: str | None = None  # the window size the variation was measured at
    warnings: tuple[str, ...] = DEFAULT_WARNINGS  # rule kinds that warn instead of blocking

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(f"column '{name}' is not in the data contract")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only: the contract is stored as an MLflow artifact with the model."""
        plain: dict[str, Any] = json.loads(json.dumps({"format": SUITE_FORMAT, **asdict(self)}))
        return plain

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SuiteSpec:
        if d.get("format") != SUITE_FORMAT:
            raise ValueError(f"data contract format {d.get('format')!r} is not supported (expected {SUITE_FORMAT})")
        fields = {k: v for k, v in d.items() if k != "format"}
        try:
            columns = tuple(_column_from_dict(c) for c in fields.pop("columns"))
            tuples: dict[str, Any] = {k: tuple(fields[k]) for k in ("target_values", "warnings") if k in fields}
            return cls(columns=columns, **{**fields, **tuples})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"data contract is malformed: {exc}") from None


def _column_from_dict(raw: dict[str, Any]) -> ColumnSpec:
    tuples = {k: tuple(raw[k]) for k in ("range", "categories") if raw.get(k) is not None}
    variation = ColumnVariation.from_dict(raw["variation"]) if raw.get("variation") else None
    return ColumnSpec(**{**raw, **tuples, "variation": variation})


# --- deriving the contract ----------------------------------------------------------------


def derive_suite(config: Config, reference: pd.DataFrame) -> SuiteSpec:
    """The contract of ``reference``: config's declared rules plus the reference's own facts.

    Never raises for bad reference data: a column the reference lacks keeps its declared
    rules (its facts unknown), so validating that same data reports it missing by name.
    """
    data = config.data
    roles: dict[str, Kind] = {}
    if data.id_column is not None:
        roles[data.id_column] = "id"
    if data.time_column is not None:
        roles[data.time_column] = "datetime"
    roles.update({c: "numeric" for c in data.features.numeric})
    roles.update({c: "categorical" for c in data.features.categorical})
    roles.update({d.column: "datetime" for d in data.features.datetime})
    roles[data.target.column] = "target"
    has_times = data.time_column is not None and data.time_column in reference.columns
    all_times = utc_times(reference[data.time_column]) if has_times else None
    times = all_times.dropna() if all_times is not None else pd.Series(dtype="datetime64[ns, UTC]")
    monitored = config.monitoring.window
    window = config.validation.window or (None if monitored == "batch" else monitored)  # batch: no dates
    keys = window_keys(all_times, window) if window and all_times is not None and len(times) else None
    return SuiteSpec(
        columns=tuple(_column_spec(reference, name, kind, config, keys) for name, kind in roles.items()),
        id_column=data.id_column,
        time_column=data.time_column,
        target=data.target.column,
        target_values=_target_values(config, reference),
        max_unseen_category_share=config.validation.max_unseen_category_share,
        reference_rows=len(reference),
        reference_rows_per_day=len(reference) / calendar_days(times) if len(times) else 0.0,
        reference_start=times.min().isoformat() if len(times) else None,
        reference_end=times.max().isoformat() if len(times) else None,
        task=config.task,
        window=window if keys is not None else None,
        warnings=tuple(config.validation.warnings),
    )


def _target_values(config: Config, reference: pd.DataFrame) -> tuple[Any, ...]:
    if config.task == "regression":
        return ()
    if config.task == "multiclass" and config.data.target.column in reference.columns:
        known = pd.unique(reference[config.data.target.column].dropna().to_numpy(dtype=object))
        return tuple(sorted((native(v) for v in known), key=lambda v: (type(v).__name__, str(v))))
    return (0, 1)


def _column_spec(reference: pd.DataFrame, name: str, kind: Kind, config: Config, keys: pd.Series | None) -> ColumnSpec:
    """A column's rules: its null bound covers the worst reference window (plus the margin)."""
    present = name in reference.columns and len(reference) > 0
    if kind == "target":
        # labelled on every reference row: every row must be. A table that always had unlabelled
        # rows (left out of training, still scored) may keep about as many, not suddenly more.
        unlabelled = float(reference[name].isna().mean()) if present else 0.0
        bound = 0.0 if unlabelled == 0 else min(1.0, round(unlabelled + config.validation.null_margin, 6))
        # how the labels varied between windows: a window all of one class, or (regression) moved
        # wholesale by one factor, is a label feed fault (core/validation_labels.label_rules)
        numeric = config.task == "regression" and present and pd.api.types.is_numeric_dtype(reference[name].dtype)
        labels = measure_variation(reference[name], keys, numeric) if present and keys is not None else None
        return ColumnSpec(name, kind, max_null_share=bound, variation=labels)
    null_share = float(reference[name].isna().mean()) if present else 0.0
    variation = None
    if present and keys is not None and kind in ("numeric", "categorical"):
        numeric = kind == "numeric" and pd.api.types.is_numeric_dtype(reference[name].dtype)
        variation = measure_variation(reference[name], keys, numeric)
        null_share = max(null_share, variation.null_high)
    bound = min(1.0, round(null_share + config.validation.null_margin, 6))
    declared = config.validation.ranges.get(name)
    categories, novelty = None, None
    if kind == "categorical" and present:
        counts = reference[name].value_counts(dropna=True)
        categories = tuple(sorted((native(v) for v in counts.index), key=lambda v: (type(v).__name__, str(v))))
        novelty = round(float((counts == 1).sum() / counts.sum()), 6) if len(counts) else None
    return ColumnSpec(name, kind, bound, declared if declared else None, categories, variation, novelty)


def native(value: Any) -> Any:
    """A JSON-friendly scalar (numpy scalars become Python ones)."""
    return value.item() if hasattr(value, "item") else value


def utc_times(values: pd.Series) -> pd.Series:
    """UTC timestamps; naive ones are taken as UTC, unparseable ones become NaT."""
    utc: pd.Series
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        utc = values.dt.tz_convert("UTC")
        return utc
    if pd.api.types.is_datetime64_dtype(values.dtype):
        utc = values.dt.tz_localize("UTC")
        return utc
    if pd.api.types.is_numeric_dtype(values.dtype):  # Unix seconds or milliseconds, as parse_times reads them
        unit = epoch_unit(values)
        utc = pd.to_datetime(values if unit else values.where(values.isna()), unit=unit or "s", utc=True)
        return utc
    # ISO-8601 parses fast; only what it rejects goes through the slow per-value parser
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    retry = parsed.isna() & values.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(values[retry], utc=True, errors="coerce", format="mixed")
    return parsed


def calendar_days(times: pd.Series) -> int:
    """Calendar days from the first to the last timestamp, both included: gaps count as days."""
    days: int = (times.max().normalize() - times.min().normalize()).days + 1
    return days
