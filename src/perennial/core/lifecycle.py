"""Values that cross the training flow: the holdout comparison and the run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.data import model_inputs
from perennial.core.evaluation import (
    MetricEstimate,
    Scores,
    measure_latency,
    model_size_mb,
    paired_difference,
    score_predictions,
)
from perennial.core.predict import classes_of, predict, targets_of
from perennial.core.task_evaluation import class_recall_differences, score_task_predictions, task_paired_difference


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate, baseline and champion scored on the *same* holdout rows."""

    candidate: Scores
    baseline: Scores
    champion: Scores | None
    versus_champion: MetricEstimate | None  # candidate minus champion, paired bootstrap
    class_recall_versus_champion: dict[str, MetricEstimate] | None = None  # multiclass: per class, paired

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


def _score(
    label: str, model: Any, frame: pd.DataFrame, y: np.ndarray, slices: pd.DataFrame | None, config: Config,
    classes: tuple[str, ...] = (),
) -> tuple[Scores, np.ndarray]:
    X, task = model_inputs(model, frame, config), config.task
    predicted = _aligned(predict(model, X, task), classes_of(model, task), classes)
    if task == "binary":
        scores = score_predictions(label, y, predicted, slices, config.evaluation)
    else:
        scores = score_task_predictions(label, task, y, predicted, classes, slices, config.evaluation)
    per_row, single = measure_latency(lambda rows: predict(model, rows, task), X, config.evaluation.latency_rows)
    sized = replace(scores, latency_ms_per_row=per_row, latency_ms_single=single, size_mb=model_size_mb(model))
    return sized, predicted


def _aligned(proba: np.ndarray, have: tuple[str, ...], want: tuple[str, ...]) -> np.ndarray:
    """Class probability columns in ``want``'s order; a class the model never saw gets probability 0."""
    if have == want or not want:
        return proba
    column = {c: i for i, c in enumerate(have)}
    return np.column_stack([proba[:, column[c]] if c in column else np.zeros(len(proba)) for c in want])


def compare_on_holdout(
    candidate: tuple[str, Any],
    baseline: Any,
    champion: tuple[str, Any] | None,
    holdout: pd.DataFrame,
    config: Config,
) -> Comparison:
    """Score every model on the same rows; the champion comparison is a paired bootstrap."""
    y, task, ev = targets_of(holdout, config), config.task, config.evaluation
    # every model is scored over the candidate's classes, plus any the holdout holds that it lacks
    classes = classes_of(candidate[1], task)
    classes = (*classes, *sorted({str(v) for v in y} - set(classes))) if task == "multiclass" else ()
    slices = holdout.loc[:, list(ev.slices)] if ev.slices else None
    cand_scores, cand_pred = _score(candidate[0], candidate[1], holdout, y, slices, config, classes)
    base_scores, _ = _score("baseline", baseline, holdout, y, slices, config, classes)
    champ_scores, versus, per_class = None, None, None
    if champion is not None:
        champ_scores, champ_pred = _score(champion[0], champion[1], holdout, y, slices, config, classes)
        if task == "binary":
            versus = paired_difference(y, cand_pred, champ_pred, ev.primary_metric, ev.bootstrap)
        else:
            versus = task_paired_difference(task, y, cand_pred, champ_pred, classes, ev)
        if task == "multiclass":
            per_class = class_recall_differences(y, cand_pred, champ_pred, classes, ev)
    return Comparison(cand_scores, base_scores, champ_scores, versus, per_class)
