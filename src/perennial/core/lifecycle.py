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
from perennial.core.evidence import Evidence, HoldoutEvidence, shortfall
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
    evidence: HoldoutEvidence | None = None  # the rows each verdict rests on
    versus_more: tuple[MetricEstimate, ...] = ()  # the other metrics with a margin vs the champion

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
    verdict: str = "passed"  # "passed" | "failed" | "inconclusive": gate_passed alone cannot say the third

    @property
    def headline(self) -> str:
        """One line for a person: the verdict, the version registered and who serves now."""
        serving = f"champion v{self.champion_version}" if self.champion_version else "no champion yet"
        return f"{self.summary} → version {self.version}, {serving}"


def _score(
    label: str,
    model: Any,
    frame: pd.DataFrame,
    y: np.ndarray,
    slices: pd.DataFrame | None,
    config: Config,
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
    champion_trained_through: pd.Timestamp | None = None,
    span_note: str = "",
) -> Comparison:
    """Score every model on the same rows; the champion comparison is a paired bootstrap.

    The champion is compared only on holdout rows after ``champion_trained_through`` (the last
    time it trained on): rows it learned from would flatter it. Too few such rows → not scored.
    """
    y, task, ev = targets_of(holdout, config), config.task, config.evaluation
    # every model is scored over the candidate's classes, plus any the holdout holds that it lacks
    classes = classes_of(candidate[1], task)
    classes = (*classes, *sorted({str(v) for v in y} - set(classes))) if task == "multiclass" else ()
    slices = holdout.loc[:, list(ev.slices)] if ev.slices else None
    cand_scores, cand_pred = _score(candidate[0], candidate[1], holdout, y, slices, config, classes)
    base_scores, _ = _score("baseline", baseline, holdout, y, slices, config, classes)
    evidence = HoldoutEvidence(evidence_of(y, config, classes), holdout_span(holdout, config, span_note))
    if champion is None:
        return Comparison(cand_scores, base_scores, None, None, evidence=evidence)
    unseen, note = _unseen_by_champion(holdout, config, champion[0], champion_trained_through)
    champion_rows = evidence_of(
        y[unseen], config, classes, "holdout rows the champion never trained on" if note else "holdout rows"
    )
    evidence = replace(evidence, champion=champion[0], champion_rows=champion_rows, champion_note=note)
    if shortfall(champion_rows, config.gate.min_evidence):
        return Comparison(cand_scores, base_scores, None, None, evidence=evidence)
    y_c, cand_c = y[unseen], cand_pred[unseen]
    part_slices = slices.loc[unseen] if slices is not None else None
    champ_scores, champ_pred = _score(champion[0], champion[1], holdout.loc[unseen], y_c, part_slices, config, classes)
    more: tuple[MetricEstimate, ...] = ()
    if task == "binary":
        diffs = [
            paired_difference(y_c, cand_c, champ_pred, metric, ev.bootstrap, ev.threshold)
            for metric in dict.fromkeys((ev.primary_metric, *config.gate.champion_margins))
        ]
        versus, more = diffs[0], tuple(diffs[1:])
    else:
        versus = task_paired_difference(task, y_c, cand_c, champ_pred, classes, ev)
    per_class = class_recall_differences(y_c, cand_c, champ_pred, classes, ev) if task == "multiclass" else None
    return Comparison(cand_scores, base_scores, champ_scores, versus, per_class, evidence, more)


def evidence_of(y: np.ndarray, config: Config, classes: tuple[str, ...] = (), what: str = "holdout rows") -> Evidence:
    """Rows, and rows of each class (a regression has no classes to count)."""
    if config.task == "regression":
        return Evidence(len(y), (), what)
    return Evidence.of_labels(y, what, classes if config.task == "multiclass" else (0, 1))


def _unseen_by_champion(
    holdout: pd.DataFrame, config: Config, label: str, trained_through: pd.Timestamp | None
) -> tuple[np.ndarray, str]:
    """A mask of the holdout rows after the champion's training, and the words that say so."""
    if trained_through is None:  # an old version without lineage: every row, as before
        return np.ones(len(holdout), dtype=bool), ""
    unseen = (holdout[config.data.time_column] > trained_through).to_numpy()
    note = f"{label} trained on rows up to {trained_through:%Y-%m-%d %H:%M}"
    return unseen, note if not unseen.all() else ""


def holdout_span(holdout: pd.DataFrame, config: Config, note: str = "") -> str:
    """'2013-07-01 00:00 to 2013-07-31 23:00 (28,310 rows)', and how it was assembled."""
    if holdout.empty:
        return "no holdout rows"
    if config.data.time_column is None:  # a hash split: the holdout is a share of rows, not a span of time
        span = f"{len(holdout):,} rows held out by row key ({config.split.label})"
        return f"{span}; {note}" if note else span
    times = holdout[config.data.time_column]
    span = f"{times.min():%Y-%m-%d %H:%M} to {times.max():%Y-%m-%d %H:%M} ({len(holdout):,} rows)"
    return f"{span}; {note}" if note else span
