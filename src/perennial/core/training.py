"""Candidate models: estimators by family, time-ordered hyper-parameter search, a baseline."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import Pipeline

from perennial.config import Candidate, Config, Features
from perennial.core.features import build_feature_pipeline, categorical_mask

# sklearn scorer names for our metric names (losses are negated: sklearn maximises)
SCORERS = {
    "roc_auc": "roc_auc",
    "average_precision": "average_precision",
    "log_loss": "neg_log_loss",
    "brier": "neg_brier_score",
    "f1": "f1",
    "accuracy": "accuracy",
}
TREE_FAMILIES = {"hist_gradient_boosting", "random_forest"}


@dataclass(frozen=True, slots=True)
class TrainedModel:
    name: str
    family: str
    model: Pipeline
    params: dict[str, Any]
    cv_score: float | None  # time-ordered CV on the training window, sklearn's sign (higher is better)
    fit_seconds: float


def make_estimator(candidate: Candidate, features: Features, seed: int) -> Any:
    params = dict(candidate.params)
    if candidate.family == "hist_gradient_boosting":
        mask = categorical_mask(features)
        return HistGradientBoostingClassifier(categorical_features=mask if any(mask) else None, random_state=seed, **params)
    if candidate.family == "logistic_regression":
        return LogisticRegression(random_state=seed, **params)
    if candidate.family == "random_forest":
        return RandomForestClassifier(random_state=seed, n_jobs=1, **params)
    raise ValueError(f"unknown model family '{candidate.family}'")


def build_model(candidate: Candidate, features: Features, seed: int) -> Pipeline:
    """The served artefact: feature pipeline and estimator in one object."""
    tree_based = candidate.family in TREE_FAMILIES
    return Pipeline(
        [
            ("features", build_feature_pipeline(features, tree_based)),
            ("model", make_estimator(candidate, features, seed)),
        ]
    )


def build_baseline(config: Config) -> Pipeline:
    """A model that ignores the features: the floor every candidate must clear by a margin."""
    return Pipeline([("model", DummyClassifier(strategy=config.training.baseline, random_state=config.training.seed))])


def _search(model: Pipeline, candidate: Candidate, scoring: str, seed: int) -> GridSearchCV | RandomizedSearchCV:
    assert candidate.search is not None
    grid = {f"model__{k}": list(v) for k, v in candidate.search.grid.items()}
    folds = TimeSeriesSplit(n_splits=candidate.search.folds)  # rows are time-ordered: no peeking ahead
    if candidate.search.n_iter is None:
        return GridSearchCV(model, grid, scoring=scoring, cv=folds, n_jobs=1, refit=True)
    return RandomizedSearchCV(
        model, grid, n_iter=candidate.search.n_iter, scoring=scoring, cv=folds, n_jobs=1, refit=True, random_state=seed
    )


def train_candidate(candidate: Candidate, X: pd.DataFrame, y: np.ndarray, config: Config) -> TrainedModel:
    """Fit one candidate; with a search, pick its parameters by time-ordered CV, then refit on all rows.

    ``X`` must be sorted by time: TimeSeriesSplit trusts the row order.
    """
    seed, scoring = config.training.seed, SCORERS[config.evaluation.primary_metric]
    model = build_model(candidate, config.data.features, seed)
    started = time.perf_counter()
    if candidate.search is not None:
        search = _search(model, candidate, scoring, seed).fit(X, y)
        fitted, cv_score = search.best_estimator_, float(search.best_score_)
        params = {**candidate.params, **{k.removeprefix("model__"): v for k, v in search.best_params_.items()}}
    else:
        cv_score = float(np.mean(cross_val_score(model, X, y, scoring=scoring, cv=TimeSeriesSplit(n_splits=2))))
        fitted, params = model.fit(X, y), dict(candidate.params)
    return TrainedModel(candidate.name, candidate.family, fitted, params, cv_score, time.perf_counter() - started)


def train_baseline(X: pd.DataFrame, y: np.ndarray, config: Config) -> TrainedModel:
    started = time.perf_counter()
    model = build_baseline(config).fit(X, y)
    return TrainedModel("baseline", "dummy", model, {"strategy": config.training.baseline}, None, time.perf_counter() - started)


def select_best(trained: list[TrainedModel]) -> TrainedModel:
    """The candidate with the best time-ordered CV score (never chosen on the holdout)."""
    scored = [t for t in trained if t.cv_score is not None and np.isfinite(t.cv_score)]
    if not scored:
        raise ValueError("no candidate produced a finite cross-validation score")
    return max(scored, key=lambda t: t.cv_score)  # type: ignore[arg-type, return-value]
