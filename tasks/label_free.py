"""Label-free performance estimation: fitted on the chosen model's labelled holdout when it is trained,
applied to a monitoring window before its labels arrive (core/label_free.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.data import model_inputs
from perennial.core.label_free import (
    ClassReference,
    LossReference,
    binary_estimates,
    estimate_multiclass,
    fit_reference,
)
from perennial.core.monitoring import PREDICTION, ChampionContext
from perennial.core.names import PROBA_PREFIX
from perennial.core.predict import classes_of, predict, targets_of
from perennial.core.scoring import stored_probabilities
from perennial.io import tracking
from perennial.io.reference_store import log_label_free
from tasks.common import IO_RETRIES


@task(name="log-label-free-reference", cache_policy=NO_CACHE, **IO_RETRIES)
def log_label_free_task(model: Any, holdout: pd.DataFrame, config: Config, shift: float, run_id: str) -> None:
    """What estimates a window before its labels arrive, fitted on the chosen model's labelled holdout:
    regression, the loss estimator of the value as served (``shift``: the cost's prediction shift);
    multiclass, CBPE's per-class calibration. Binary needs none (its CBPE reads the drift reference)."""
    if config.task == "binary":
        return
    features = config.data.features
    predicted = predict(model, model_inputs(model, holdout, config), config.task)
    if config.task == "regression":
        predicted = predicted + shift
    inputs = holdout.loc[:, [*features.numeric, *features.categorical]]  # as the prediction store keeps them
    reference = fit_reference(
        config.task,
        inputs,
        targets_of(holdout, config),
        predicted,
        classes_of(model, config.task),
        config.training.seed,
    )
    if reference is not None:
        log_label_free(run_id, reference)


@task(name="estimate-without-labels", cache_policy=NO_CACHE)
def label_free_task(
    predictions: pd.DataFrame, context: ChampionContext, config: Config, run_id: str
) -> dict[str, float] | None:
    """Performance expected before any label arrives; ``estimated_drop`` (positive: worse, in the primary
    metric's units) is what ``retraining.drift_needs_drop`` reads while the window has no labels.

    Binary, roc_auc: CBPE on the window's scores against the same estimate on the champion's reference
    scores. Regression: direct loss estimation (the estimator fitted on the champion's holdout) of the
    window's MAE and RMSE from its features and stored predictions; the drop is the expected rise over
    the holdout's measured MAE or RMSE (primary metric mae or rmse). Multiclass: CBPE's accuracy and
    F1 from the class probabilities, calibrated on the holdout; the drop is the expected fall below
    the holdout's measured accuracy or macro-F1. A champion trained before its estimator was recorded:
    regression, nothing; multiclass, CBPE uncalibrated (trusting its probabilities), no drop.
    """
    if predictions.empty:
        return None
    found = _label_free(predictions, context, config)
    if found is not None:
        tracking.log_metrics(run_id, found)
    return found


def label_free_columns(columns: Sequence[str], context: ChampionContext, config: Config) -> list[str]:
    """The only columns of the window's rows ``label_free_task`` reads (a window over partitions fetches
    these alone): binary, the score; regression, the loss estimator's inputs and the served value;
    multiclass, the class probabilities."""
    if config.task == "binary":
        return [PREDICTION] if PREDICTION in columns else []
    if config.task == "regression":
        reference = context.label_free
        inputs = reference.estimator.columns if isinstance(reference, LossReference) else ()
        return [c for c in (*inputs, PREDICTION) if c in columns]
    return [c for c in columns if c.startswith(PROBA_PREFIX)]


def _label_free(predictions: pd.DataFrame, context: ChampionContext, config: Config) -> dict[str, float] | None:
    metric, reference = config.evaluation.primary_metric, context.label_free
    if config.task == "binary":
        if metric != "roc_auc" or PREDICTION not in context.sample.columns:
            return None
        return binary_estimates(predictions[PREDICTION], context.sample[PREDICTION])
    if reference is None:
        print(f"no label-free estimator for v{context.version}: {context.label_free_note}")
    if config.task == "regression":
        if not isinstance(reference, LossReference):
            return None
        missing = [c for c in reference.estimator.columns if c not in predictions.columns]
        if missing:
            print(f"no label-free estimate: the window's rows lack {missing}, which v{context.version} was fitted on")
            return None
        return reference.estimates(predictions, predictions[PREDICTION], metric)
    proba, classes = stored_probabilities(predictions)
    if not classes:
        return None
    if isinstance(reference, ClassReference):
        calibrated = reference.estimates(proba, classes, metric)
        if calibrated is not None:
            return calibrated
        print(f"the window's classes {classes} are not v{context.version}'s {list(reference.classes)}: uncalibrated")
    return estimate_multiclass(proba, classes).metrics()
