"""A profile of the training data, and what changed since the previous champion's.

Per column: its role and type, missing share, range, quantiles (numeric), top categories
(categorical), and its association with the binary target — Pearson correlation for a number
(point-biserial), the correlation ratio (eta, 0..1) for a category. ``to_dict``/``from_dict``
round-trip through JSON so the next training run can diff against a stored profile.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from perennial.config import Config

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_CATEGORIES = 10
# a diff line is kept only when something moved by at least these amounts
MISSING_SHIFT = 0.01
LEVEL_SHIFT = 0.05  # a regression target's mean moving by this share of itself
SHIFT_IN_STD = 0.1
ASSOCIATION_SHIFT = 0.05
CATEGORY_SHARE_SHIFT = 0.05
RANGE_MARGIN = 0.1  # of the previous span: sample tails always move a little


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    name: str
    role: str  # numeric | categorical | datetime | target
    dtype: str
    missing_share: float
    distinct: int
    minimum: float | str | None = None
    maximum: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)  # "p50" -> value
    top: dict[str, float] = field(default_factory=dict)  # category -> share of non-missing rows
    association: float | None = None  # with the target: Pearson r (numeric) or eta (categorical)


@dataclass(frozen=True, slots=True)
class DataProfile:
    rows: int
    target: str
    positive_rate: float
    window: str  # e.g. "2013-01-01 .. 2013-06-01"
    columns: tuple[ColumnProfile, ...]

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        safe: dict[str, Any] = _json_safe(
            {
                "rows": self.rows,
                "target": self.target,
                "positive_rate": self.positive_rate,
                "window": self.window,
                "columns": [asdict(c) for c in self.columns],
            }
        )
        return safe

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataProfile:
        columns = tuple(ColumnProfile(**c) for c in raw["columns"])
        rate = raw["positive_rate"]
        return cls(
            int(raw["rows"]), raw["target"], math.nan if rate is None else float(rate), raw.get("window", ""), columns
        )

    def summary_markdown(self) -> str:
        """The short Prefect summary: one line a column."""
        lines = [
            f"## Training data: {self.rows:,} rows, {self.target} {target_level(self.positive_rate)} ({self.window})",
            "",
            "| column | role | missing | range | association with target |",
            "|---|---|---|---|---|",
        ]
        for c in self.columns:
            lines.append(f"| {c.name} | {c.role} | {c.missing_share:.1%} | {_range(c)} | {_num(c.association)} |")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """A standalone page: one table a column kind, no scripts or external assets."""
        head = (
            "column",
            "role",
            "type",
            "missing",
            "distinct",
            "min",
            "max",
            "mean",
            "std",
            "quantiles",
            "top categories",
            "association",
        )
        rows = []
        for c in self.columns:
            quant = ", ".join(f"{k} {_num(v)}" for k, v in c.quantiles.items())
            top = ", ".join(f"{k} {v:.1%}" for k, v in c.top.items())
            cells = (
                c.name,
                c.role,
                c.dtype,
                f"{c.missing_share:.2%}",
                str(c.distinct),
                _num(c.minimum),
                _num(c.maximum),
                _num(c.mean),
                _num(c.std),
                quant,
                top,
                _num(c.association),
            )
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
        title = f"Training data profile: {self.rows:,} rows, {self.target} {target_level(self.positive_rate)}, {self.window}"
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Data profile</title><style>"
            "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
            "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f0f0f0}</style></head><body>"
            f"<h2>{html.escape(title)}</h2><table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>"
            f"{''.join(rows)}</table></body></html>"
        )


def _numeric_target(values: pd.Series, config: Config) -> pd.Series:
    """The target as numbers for associations: 0/1, the value itself, or (multiclass) whether a row is of
    the most common class, a one-number summary that still shows which columns separate classes."""
    if config.task != "multiclass":
        return values.astype("float64")
    text = values.astype(str)
    return (text == text.mode().iloc[0]).astype("float64") if len(text) else text.astype("float64")


def profile_frame(frame: pd.DataFrame, config: Config) -> DataProfile:
    """Profile the model's input columns and the target of one (training) frame."""
    features, target = config.data.features, config.data.target.column
    missing = [c for c in (*features.columns, target) if c not in frame.columns]
    if missing:
        raise ValueError(f"cannot profile: the frame has no column(s) {missing}")
    y = _numeric_target(frame[target], config)
    columns = [_numeric(n, frame[n], y) for n in features.numeric]
    columns += [_categorical(n, frame[n], y) for n in features.categorical]
    columns += [_datetime(d.column, frame[d.column]) for d in features.datetime]
    columns.append(_target(target, frame[target], config.task))
    window = _window(frame, config.data.time_column)
    return DataProfile(len(frame), target, float(y.mean()) if len(y) else math.nan, window, tuple(columns))


def _window(frame: pd.DataFrame, time_column: str | None) -> str:
    if not len(frame):
        return "empty"
    if time_column is None:
        return "no time column"
    times = pd.to_datetime(frame[time_column], utc=True)
    return f"{times.min():%Y-%m-%d} .. {times.max():%Y-%m-%d}"


def _base(name: str, role: str, series: pd.Series) -> dict[str, Any]:
    share = float(series.isna().mean()) if len(series) else 0.0
    return {
        "name": name,
        "role": role,
        "dtype": str(series.dtype),
        "missing_share": share,
        "distinct": int(series.nunique(dropna=True)),
    }


def _numeric(name: str, series: pd.Series, y: pd.Series) -> ColumnProfile:
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    finite = values[np.isfinite(values)]
    if finite.empty:
        return ColumnProfile(**_base(name, "numeric", series))
    quantiles = dict(
        zip((f"p{round(q * 100)}" for q in QUANTILES), np.quantile(finite, QUANTILES).tolist(), strict=True)
    )
    return ColumnProfile(
        **_base(name, "numeric", series),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        mean=float(finite.mean()),
        std=float(finite.std(ddof=0)),
        quantiles=quantiles,
        association=_pearson(values, y),
    )


def _pearson(x: pd.Series, y: pd.Series) -> float | None:
    both = np.isfinite(x) & y.notna()
    if both.sum() < 3 or x[both].std() == 0 or y[both].std() == 0:
        return None
    return float(np.corrcoef(x[both], y[both])[0, 1])


def _categorical(name: str, series: pd.Series, y: pd.Series) -> ColumnProfile:
    text = series.astype("object").where(series.notna()).map(lambda v: v if v is None or isinstance(v, str) else str(v))
    present = text.dropna()
    shares = present.value_counts(normalize=True).head(TOP_CATEGORIES)
    return ColumnProfile(
        **_base(name, "categorical", series),
        top={str(k): float(v) for k, v in shares.items()},
        association=_eta(text.fillna("<NA>"), y),
    )


def _eta(groups: pd.Series, y: pd.Series) -> float | None:
    """Correlation ratio: the share of the target's spread explained by the category (as a root)."""
    total = float(y.var(ddof=0)) if len(y) else 0.0
    if total == 0:
        return None
    stats = y.groupby(groups.to_numpy()).agg(["mean", "count"])
    between = float(((stats["mean"] - y.mean()) ** 2 * stats["count"]).sum() / len(y))
    return float(math.sqrt(between / total))


def _datetime(name: str, series: pd.Series) -> ColumnProfile:
    stamps = pd.to_datetime(series, utc=True, errors="coerce")
    present = stamps.dropna()
    lo, hi = (None, None) if present.empty else (present.min().isoformat(), present.max().isoformat())
    return ColumnProfile(**_base(name, "datetime", series), minimum=lo, maximum=hi)


def _target(name: str, series: pd.Series, task: str = "binary") -> ColumnProfile:
    if task == "regression":  # a number: its spread, as any numeric column's
        return replace(_numeric(name, series, series.astype("float64")), role="target", association=None)
    if task == "multiclass":  # each class's share
        shares = series.astype(str).value_counts(normalize=True)
        return ColumnProfile(**_base(name, "target", series), top={str(k): float(v) for k, v in shares.items()})
    values = series.astype("float64")
    shares = values.value_counts(normalize=True)
    return ColumnProfile(
        **_base(name, "target", series),
        mean=float(values.mean()) if len(values) else None,
        top={str(int(cast(float, k))): float(v) for k, v in shares.items()},
    )


# --- diff against the previous champion's profile ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileChange:
    column: str
    what: str  # added | removed | missing | shift | range | categories | association | rows | target rate
    before: str
    after: str
    note: str


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    previous: str  # e.g. "champion v1"
    changes: tuple[ProfileChange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"previous": self.previous, "changes": [asdict(c) for c in self.changes]}

    def to_markdown(self) -> str:
        lines = [f"## What changed in the training data since {self.previous}", ""]
        if not self.changes:
            return "\n".join([*lines, "Nothing beyond the thresholds: same columns, similar shapes.", ""])
        lines += ["| column | what | before | after | note |", "|---|---|---|---|---|"]
        lines += [f"| {c.column} | {c.what} | {c.before} | {c.after} | {c.note} |" for c in self.changes]
        return "\n".join(lines) + "\n"


def target_level(value: float) -> str:
    """The target's level as read: a share of positives as a rate, a quantity's mean as a number."""
    return f"rate {value:.1%}" if 0.0 <= value <= 1.0 else f"mean {value:.4g}"


def diff_profiles(previous: DataProfile, current: DataProfile, label: str = "the previous champion") -> ProfileDiff:
    """What a reviewer should look at between two models' training data; small moves are left out."""
    changes = [
        ProfileChange(
            "(all)", "rows", f"{previous.rows:,}", f"{current.rows:,}", previous.window + " → " + current.window
        )
    ]
    before, after = previous.positive_rate, current.positive_rate
    if all(0.0 <= r <= 1.0 for r in (before, after)):  # a share of positives (binary)
        if abs(after - before) >= MISSING_SHIFT:
            changes.append(
                ProfileChange(current.target, "target rate", f"{before:.1%}", f"{after:.1%}", "base rate moved")
            )
    elif abs(after - before) >= LEVEL_SHIFT * max(abs(before), abs(after)):  # a quantity's mean (regression)
        changes.append(ProfileChange(current.target, "target mean", f"{before:.4g}", f"{after:.4g}", "its level moved"))
    names_before = {c.name for c in previous.columns}
    names_now = {c.name for c in current.columns}
    changes += [ProfileChange(n, "added", "-", "present", "new input column") for n in sorted(names_now - names_before)]
    changes += [
        ProfileChange(n, "removed", "present", "-", "no longer an input") for n in sorted(names_before - names_now)
    ]
    for col in current.columns:
        old = previous.column(col.name)
        if old is not None and col.role != "target":
            changes += _column_changes(old, col)
    return ProfileDiff(label, tuple(changes))


def _column_changes(old: ColumnProfile, new: ColumnProfile) -> list[ProfileChange]:
    out = []
    if abs(new.missing_share - old.missing_share) >= MISSING_SHIFT:
        out.append(ProfileChange(new.name, "missing", f"{old.missing_share:.1%}", f"{new.missing_share:.1%}", ""))
    if old.mean is not None and new.mean is not None and old.std:
        shift = (new.mean - old.mean) / old.std
        if abs(shift) >= SHIFT_IN_STD:
            out.append(
                ProfileChange(
                    new.name,
                    "shift",
                    f"mean {_num(old.mean)}",
                    f"mean {_num(new.mean)}",
                    f"{shift:+.2f} std of the previous data",
                )
            )
    if new.role == "numeric" and old.minimum is not None and new.minimum is not None:
        margin = RANGE_MARGIN * (old.maximum - old.minimum)  # type: ignore[operator]
        if new.minimum < old.minimum - margin or new.maximum > old.maximum + margin:  # type: ignore[operator]
            out.append(ProfileChange(new.name, "range", _range(old), _range(new), "values outside the previous range"))
    if old.top or new.top:
        appeared = sorted(set(new.top) - set(old.top))
        gone = sorted(set(old.top) - set(new.top))
        moved = [k for k in set(new.top) & set(old.top) if abs(new.top[k] - old.top[k]) >= CATEGORY_SHARE_SHIFT]
        if appeared or gone or moved:
            note = "; ".join(
                p
                for p in (
                    f"new in top: {', '.join(appeared)}" if appeared else "",
                    f"left top: {', '.join(gone)}" if gone else "",
                    ", ".join(f"{k} {old.top[k]:.1%}→{new.top[k]:.1%}" for k in sorted(moved)),
                )
                if p
            )
            out.append(ProfileChange(new.name, "categories", _top(old), _top(new), note))
    if old.association is not None and new.association is not None:
        if abs(new.association - old.association) >= ASSOCIATION_SHIFT:
            out.append(
                ProfileChange(
                    new.name,
                    "association",
                    _num(old.association),
                    _num(new.association),
                    "link with the target changed",
                )
            )
    return out


# --- formatting ----------------------------------------------------------------------------------


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, str):
        return value[:19]
    return f"{value:.4g}"


def _range(c: ColumnProfile) -> str:
    return "-" if c.minimum is None else f"{_num(c.minimum)} .. {_num(c.maximum)}"


def _top(c: ColumnProfile, n: int = 3) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in list(c.top.items())[:n]) or "-"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value
