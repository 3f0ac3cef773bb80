"""Values that cross the training flow: the holdout comparison and the run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.data import labels_of, model_inputs
from perennial.core.evaluation import (
    MetricEstimate,
    Scores,
    measure_latency,
    model_size_mb,
    paired_difference,
    score_predictions,
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate, baseline and champion scored on the *same* holdout rows."""

    candidate: Scores
    baseline: Scores
    champion: Scores | None
    versus_champion: MetricEstimate | None  # candidate minus champion, paired bootstrap

    def all_scores(self) -> tuple[Scores, ...]:
        return tuple(s for s in (self.candidate, self.baseline, self.champion) if s is not None)


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    run_id: str
    candidate: str
    version: str | None
    gate_passed: bool
    promoted: bool
    champion_version: str | None
    summary: str


def _score(label: str, model: Any, frame: pd.DataFrame, y: np.ndarray, slices: pd.DataFrame | None, config: Config) -> tuple[Scores, np.ndarray]:
    X = model_inputs(model, frame, config)
    proba = np.asarray(model.predict_proba(X))[:, 1]
    scores = score_predictions(label, y, proba, slices, config.evaluation)
    per_row, single = measure_latency(lambda frame: model.predict_proba(frame), X, config.evaluation.latency_rows)
    sized = replace(scores, latency_ms_per_row=per_row, latency_ms_single=single, size_mb=model_size_mb(model))
    return sized, proba


def compare_on_holdout(
    candidate: tuple[str, Any],
    baseline: Any,
    champion: tuple[str, Any] | None,
    holdout: pd.DataFrame,
    config: Config,
) -> Comparison:
    """Score every model on the same rows; the champion comparison is a paired bootstrap."""
    y = labels_of(holdout, config)
    slices = holdout.loc[:, list(config.evaluation.slices)] if config.evaluation.slices else None
    cand_scores, cand_proba = _score(candidate[0], candidate[1], holdout, y, slices, config)
    base_scores, _ = _score("baseline", baseline, holdout, y, slices, config)
    champ_scores, versus = None, None
    if champion is not None:
        champ_scores, champ_proba = _score(champion[0], champion[1], holdout, y, slices, config)
        versus = paired_difference(y, cand_proba, champ_proba, config.evaluation.primary_metric, config.evaluation.bootstrap)
    return Comparison(cand_scores, base_scores, champ_scores, versus)
