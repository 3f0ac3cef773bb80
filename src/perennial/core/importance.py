"""Feature importance by permutation on the holdout, and features whose importance decayed.

Importance is the drop of the primary metric when one raw input column is shuffled (the
model's own pipeline runs on the shuffled frame), on a bounded, seeded sample. Values are in
the metric's units, "higher means the model leans on it more", for losses as for scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from perennial.config import Importance
from perennial.core.task import Task, sklearn_scorer
from perennial.core.threads import openmp_for

# below this a feature's importance is noise: a fall from it is not decay
MIN_REFERENCE_IMPORTANCE = 1e-3


@dataclass(frozen=True, slots=True)
class FeatureImportance:
    feature: str
    mean: float
    std: float


@dataclass(frozen=True, slots=True)
class ImportanceReport:
    metric: str
    rows: int  # sample size used
    repeats: int
    features: tuple[FeatureImportance, ...]  # most important first

    def as_mapping(self) -> dict[str, float]:
        return {f.feature: f.mean for f in self.features}

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "rows": self.rows,
            "repeats": self.repeats,
            "features": [asdict(f) for f in self.features],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ImportanceReport:
        features = tuple(FeatureImportance(f["feature"], float(f["mean"]), float(f["std"])) for f in raw["features"])
        return cls(raw["metric"], int(raw["rows"]), int(raw["repeats"]), features)

    def to_markdown(self) -> str:
        lines = [
            f"## Permutation importance ({self.metric} drop, {self.rows:,} holdout rows x {self.repeats})",
            "",
            "| feature | importance | std |",
            "|---|---|---|",
        ]
        lines += [f"| {f.feature} | {f.mean:.4f} | {f.std:.4f} |" for f in self.features]
        return "\n".join(lines) + "\n"


def importance_sample(rows: int, settings: Importance, seed: int) -> np.ndarray:
    """The positions, ascending, of the seeded sample of at most ``settings.max_rows`` of ``rows`` rows
    that permutation importance shuffles (a window over partitions fetches only these rows)."""
    rng = np.random.default_rng(seed)
    take: np.ndarray = np.sort(rng.choice(rows, size=min(rows, settings.max_rows), replace=False))
    return take


def permutation_importances(
    model: Any, X: pd.DataFrame, y: np.ndarray, metric: str, settings: Importance, seed: int, task: Task = "binary"
) -> ImportanceReport:
    """Shuffle each raw column of a seeded sample of at most ``settings.max_rows`` rows."""
    if len(X) != len(y):
        raise ValueError(f"{len(X)} rows but {len(y)} labels")
    if len(X) == 0:
        raise ValueError("permutation importance needs at least one row")
    take = importance_sample(len(X), settings, seed)
    sample, labels = X.iloc[take].reset_index(drop=True), np.asarray(y)[take]
    with openmp_for(len(sample)):  # many short predictions: spinning threads would cost more than they give
        result = permutation_importance(
            model,
            sample,
            labels,
            scoring=sklearn_scorer(task, metric),
            n_repeats=settings.repeats,
            random_state=seed,
            n_jobs=1,
        )
    features = [
        FeatureImportance(str(c), float(mu), float(sd))
        for c, mu, sd in zip(sample.columns, result.importances_mean, result.importances_std, strict=True)
    ]
    features.sort(key=lambda f: -f.mean)
    return ImportanceReport(metric, len(sample), settings.repeats, tuple(features))


@dataclass(frozen=True, slots=True)
class FeatureDecay:
    feature: str
    at_training: float
    now: float
    drop_share: float  # (at_training - now) / at_training; 1.0 = gone entirely
    decayed: bool


def flag_decayed_features(
    at_training: Mapping[str, float],
    now: Mapping[str, float],
    max_drop_share: float,
    min_importance: float = MIN_REFERENCE_IMPORTANCE,
) -> tuple[FeatureDecay, ...]:
    """Compare importance now with the champion's at training time; ``decayed`` when the fall exceeds the share.

    Only features that mattered at training (importance >= ``min_importance``) can decay; a feature
    missing from ``now`` counts as importance 0. Biggest falls first.
    """
    if not 0 < max_drop_share <= 1:
        raise ValueError(f"max_drop_share must be in (0, 1], got {max_drop_share}")
    out = []
    for feature, before in at_training.items():
        if not np.isfinite(before) or before < min_importance:
            continue
        after = float(now.get(feature, 0.0))
        drop = (before - after) / before
        out.append(FeatureDecay(feature, float(before), after, float(drop), bool(drop > max_drop_share)))
    return tuple(sorted(out, key=lambda d: -d.drop_share))


def importance_history(per_version: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Features (rows) by version (columns, in the given order); NaN where a version did not use a feature."""
    frame = pd.DataFrame({version: pd.Series(values, dtype="float64") for version, values in per_version.items()})
    if frame.empty:
        return frame
    latest = frame.columns[-1]
    return frame.sort_values(latest, ascending=False, na_position="last")
