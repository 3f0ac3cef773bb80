"""Candidate models: estimators by family, time-ordered hyper-parameter search, a baseline."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    PredefinedSplit,
    RandomizedSearchCV,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_score,
)
from sklearn.pipeline import Pipeline

from perennial.config import Candidate, Config, Features, HashSplit
from perennial.core import estimators
from perennial.core.features import build_feature_pipeline, categorical_mask
from perennial.core.task import Task, sklearn_scorer
from perennial.core.threads import openmp_for

TREE_FAMILIES = {"hist_gradient_boosting", "random_forest"}


@dataclass(frozen=True, slots=True)
class TrainedModel:
    name: str
    family: str
    model: Pipeline
    params: dict[str, Any]
    cv_score: float | None  # time-ordered CV on the training window, sklearn's sign (higher is better)
    fit_seconds: float


def make_estimator(candidate: Candidate, features: Features, seed: int, task: Task = "binary") -> Any:
    return estimators.make_estimator(task, candidate.family, candidate.params, categorical_mask(features), seed)


def build_model(candidate: Candidate, features: Features, seed: int, task: Task = "binary") -> Pipeline:
    """The served artefact: feature pipeline and estimator in one object."""
    tree_based = candidate.family in TREE_FAMILIES
    return Pipeline(
        [
            ("features", build_feature_pipeline(features, tree_based)),
            ("model", make_estimator(candidate, features, seed, task)),
        ]
    )


def build_baseline(config: Config) -> Pipeline:
    """A model that ignores the features: the floor every candidate must clear by a margin."""
    time_column = getattr(config.data, "time_column", None)
    baseline = estimators.make_baseline(config.task, config.training.baseline, config.training.seed, time_column)
    return Pipeline([("model", baseline)])


def scorer(config: Config) -> Any:
    """The sklearn scorer of the primary metric for the config's task (losses negated)."""
    ev = config.evaluation
    return sklearn_scorer(config.task, ev.primary_metric, ev.top_k, ev.quantile)


def cv_folds(
    config: Config, n_splits: int, X: pd.DataFrame, y: np.ndarray
) -> TimeSeriesSplit | StratifiedKFold | KFold | PredefinedSplit:
    """Time-ordered folds when rows have a time (no peeking ahead), else shuffled folds (stratified by
    class) in which identical rows share a fold, as they share the holdout's side: split apart, a
    search scored copies of rows it trained on and favoured whatever memorised them."""
    if not isinstance(config.split, HashSplit):
        return TimeSeriesSplit(n_splits=n_splits)
    shuffled = (KFold if config.task == "regression" else StratifiedKFold)(
        n_splits=n_splits, shuffle=True, random_state=config.training.seed
    )
    digest = pd.util.hash_pandas_object(X, index=False).to_numpy()
    _, first, copies = np.unique(digest, return_index=True, return_inverse=True)
    if len(first) == len(X):
        return shuffled
    fold = np.empty(len(first), dtype=np.int64)  # the distinct rows are split, each copy follows its first
    for k, (_, test) in enumerate(shuffled.split(np.zeros(len(first)), np.asarray(y)[first])):
        fold[test] = k
    return PredefinedSplit(fold[copies.ravel()])


def _search(
    model: Pipeline, candidate: Candidate, scoring: Any, config: Config, X: pd.DataFrame, y: np.ndarray
) -> GridSearchCV | RandomizedSearchCV:
    assert candidate.search is not None
    seed = config.training.seed
    grid = {f"model__{k}": list(v) for k, v in candidate.search.grid.items()}
    folds = cv_folds(config, candidate.search.folds, X, y)
    if candidate.search.n_iter is None:
        return GridSearchCV(model, grid, scoring=scoring, cv=folds, n_jobs=1, refit=True)
    return RandomizedSearchCV(
        model, grid, n_iter=candidate.search.n_iter, scoring=scoring, cv=folds, n_jobs=1, refit=True, random_state=seed
    )


def train_candidate(candidate: Candidate, X: pd.DataFrame, y: np.ndarray, config: Config) -> TrainedModel:
    """Fit one candidate; with a search, pick its parameters by CV (``cv_folds``), then refit on all rows.

    With a time split ``X`` must be sorted by time: TimeSeriesSplit trusts the row order.
    """
    seed, scoring = config.training.seed, scorer(config)
    model = build_model(candidate, config.data.features, seed, config.task)
    started = time.perf_counter()
    # a forest left at n_jobs unset grows its trees on every core here, and predicts on one where it
    # serves (outside this block); folds and searches stay one at a time (n_jobs=1): no nested pools.
    # Threads, never loky's worker processes: those outlive a killed run and hold its stdout open.
    with parallel_config(backend="threading", n_jobs=-1), openmp_for(len(X)):
        if candidate.search is not None:
            search = _search(model, candidate, scoring, config, X, y).fit(X, y)
            fitted, cv_score = search.best_estimator_, float(search.best_score_)
            params = {**candidate.params, **{k.removeprefix("model__"): v for k, v in search.best_params_.items()}}
        else:
            folds = cv_folds(config, config.split.folds if isinstance(config.split, HashSplit) else 2, X, y)
            cv_score = float(np.mean(cross_val_score(model, X, y, scoring=scoring, cv=folds, n_jobs=1)))
            fitted, params = model.fit(X, y), dict(candidate.params)
    return TrainedModel(candidate.name, candidate.family, fitted, params, cv_score, time.perf_counter() - started)


def baseline_inputs(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The feature columns, plus the time column when the baseline forecasts from time (last value, seasonal)."""
    columns = list(config.data.features.columns)
    time_column = getattr(config.data, "time_column", None)
    if config.training.baseline in ("last_value", "seasonal_naive") and time_column and time_column not in columns:
        columns.append(time_column)
    return frame.loc[:, columns]


def train_baseline(X: pd.DataFrame, y: np.ndarray, config: Config) -> TrainedModel:
    started = time.perf_counter()
    model = build_baseline(config).fit(X, y)
    return TrainedModel(
        "baseline", "dummy", model, {"strategy": config.training.baseline}, None, time.perf_counter() - started
    )


def select_best(trained: list[TrainedModel]) -> TrainedModel:
    """The candidate with the best time-ordered CV score (never chosen on the holdout)."""
    scored = [t for t in trained if t.cv_score is not None and np.isfinite(t.cv_score)]
    if not scored:
        raise ValueError("no candidate produced a finite cross-validation score")
    return max(scored, key=lambda t: t.cv_score)  # type: ignore[arg-type, return-value]
