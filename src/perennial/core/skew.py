"""Train/serve skew: what the service received against what the champion was trained on.

Drift compares one time window with the next; skew compares *served* inputs (the prediction
log's feature columns) with the champion's *training* features, column by column, with the same
engine and tests (``perennial.core.drift``). A skewed column with no drift in time usually means
a pipeline difference (units, encodings, defaults), not a changing world — so the two are
reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from perennial.core.drift import DriftReport, ReferenceStats, detect_drift


@dataclass(frozen=True, slots=True)
class SkewReport:
    model_version: str | None
    drift: DriftReport  # served rows (current) against the training reference
    missing_columns: tuple[str, ...]  # training columns the service never received (all null or absent)
    served_rows: int

    @property
    def skewed_columns(self) -> tuple[str, ...]:
        return (*self.drift.drifted_columns, *self.missing_columns)

    @property
    def skewed(self) -> bool:
        return bool(self.skewed_columns)

    def summary(self) -> str:
        who = f"champion v{self.model_version}" if self.model_version else "the model"
        if not self.skewed:
            return f"no train/serve skew: {self.served_rows:,} served rows match {who}'s training features"
        parts = [f"{len(self.drift.drifted_columns)} of {len(self.drift.columns)} columns differ"]
        if self.missing_columns:
            parts.append(f"never received: {', '.join(self.missing_columns)}")
        return f"train/serve skew for {who} on {self.served_rows:,} served rows: {'; '.join(parts)} ({', '.join(self.skewed_columns)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "train_serve_skew",
            "model_version": self.model_version,
            "skewed": self.skewed,
            "skewed_columns": list(self.skewed_columns),
            "missing_columns": list(self.missing_columns),
            "served_rows": self.served_rows,
            "summary": self.summary(),
            "tests": self.drift.to_dict(),
        }

    def to_markdown(self) -> str:
        lines = [
            "## Train/serve skew (not drift in time)",
            "",
            self.summary(),
            "",
            "| column | kind | test | statistic | threshold | skewed |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {c.column} | {c.kind} | {c.test} | {c.statistic:.4g} | {c.threshold:g} | {'**yes**' if c.drifted else 'no'} |"
            for c in self.drift.columns
        ]
        lines += [f"| {c} | - | - | - | - | **never received** |" for c in self.missing_columns]
        return "\n".join(lines) + "\n"


def detect_skew(
    training: ReferenceStats, served: pd.DataFrame, model_version: str | None = None, share_threshold: float = 0.5
) -> SkewReport:
    """Test each training column on the served rows; a column the service never sent is skew by itself.

    ``served`` holds prediction-log rows (their raw feature columns); rows of other model versions
    should be filtered out by the caller.
    """
    if served.empty:
        raise ValueError("no served rows to compare with the training features")
    absent = tuple(c for c in training.columns if c not in served.columns or served[c].notna().sum() == 0)
    present = [c for c in training.columns if c not in absent]
    if not present:
        raise ValueError(f"the served rows carry none of the training columns {list(training.columns)}")
    kept = ReferenceStats(
        numeric={c: r for c, r in training.numeric.items() if c in present},
        categorical={c: r for c, r in training.categorical.items() if c in present},
        rows=training.rows,
    )
    frame = served.loc[:, present].copy()
    for column in kept.numeric:  # rows logged from JSON may hold numbers as objects
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in kept.categorical:  # the log stores what JSON carried: compare categories as the reference holds them
        frame[column] = _like_reference(frame[column], kept.categorical[column].labels)
    report = detect_drift(kept, frame, share_threshold)
    return SkewReport(model_version, report, absent, len(served))


def _like_reference(series: pd.Series, labels: tuple[Any, ...]) -> pd.Series:
    if labels and all(isinstance(v, str) for v in labels):
        return series.astype("object").where(series.isna(), series.astype(str))
    return series
