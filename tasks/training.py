"""Train candidates (one nested MLflow run each) and the baseline; pick the best by CV."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Candidate, Config
from perennial.core.data import features_of
from perennial.core.names import Tag
from perennial.core.predict import targets_of
from perennial.core.training import TrainedModel, baseline_inputs, select_best, train_baseline, train_candidate
from perennial.io import tracking
from tasks.common import fault_point


@task(name="train-candidate", task_run_name="train-{candidate.name}", cache_policy=NO_CACHE)
def train_candidate_task(
    candidate: Candidate, train: pd.DataFrame, config: Config, experiment_id: str, parent_run_id: str
) -> tuple[TrainedModel, str, str]:
    """Fit one candidate in its own nested run; returns the model, its run id and model URI."""
    tags = {Tag.CANDIDATE: candidate.name}
    with tracking.tracked_run(experiment_id, f"candidate:{candidate.name}", tags, parent_run_id) as run_id:
        X = features_of(train, config)
        fault_point("train")  # test hook (tasks/common.py)
        trained = train_candidate(candidate, X, targets_of(train, config), config)
        tracking.log_params(run_id, {"family": trained.family, **trained.params})
        tracking.log_metrics(run_id, {"cv_score": trained.cv_score or float("nan"), "fit_seconds": trained.fit_seconds})
        model_uri = tracking.log_model(run_id, trained.model, X, config.task)
    return trained, run_id, model_uri


@task(name="train-baseline", cache_policy=NO_CACHE)
def train_baseline_task(train: pd.DataFrame, config: Config) -> TrainedModel:
    return train_baseline(baseline_inputs(train, config), targets_of(train, config), config)


@task(name="select-candidate", cache_policy=NO_CACHE)
def select_candidate_task(
    results: list[tuple[TrainedModel, str, str]], parent_run_id: str
) -> tuple[TrainedModel, str, str]:
    best = select_best([trained for trained, _, _ in results])
    chosen = next(r for r in results if r[0] is best)
    tracking.log_params(parent_run_id, {"selected_candidate": best.name, "selected_by": "time-ordered CV"})
    tracking.log_metrics(parent_run_id, {f"cv_score.{t.name}": t.cv_score or float("nan") for t, _, _ in results})
    return chosen
