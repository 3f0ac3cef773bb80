"""Estimators per task: candidate families and the feature-blind baselines they must beat.

A candidate family names a model shape (gradient boosting, linear, forest); the task picks the
classifier or the regressor of that shape. Baselines ignore the features: majority/prior or a
stratified draw for classes; the mean or median for a number, and, when rows carry a time, the
last value and the seasonal naive forecast (the value at the same hour of the same weekday).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from perennial.core.task import FAMILIES, Task

# A class this many times rarer than the most common one makes a target imbalanced
IMBALANCE_RATIO = 3.0


def make_estimator(task: Task, family: str, params: Mapping[str, Any], categorical: Sequence[bool], seed: int) -> Any:
    """The unfitted estimator of ``family`` for ``task``; ``categorical`` marks native categorical inputs."""
    if family not in FAMILIES[task]:
        raise ValueError(f"model family '{family}' cannot fit a {task} target; use one of {', '.join(FAMILIES[task])}")
    params, classify = dict(params), task != "regression"
    if family == "hist_gradient_boosting":
        mask = list(categorical) if any(categorical) else None
        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(categorical_features=mask, random_state=seed, **params)
    if family == "random_forest":
        cls = RandomForestClassifier if classify else RandomForestRegressor
        if classify and params.get("class_weight") == "balanced" and params.get("bootstrap", True):
            # the same weights drawn per tree: scikit-learn's forest reads classes written as
            # numbers ('3', '9': wine quality) back as ints under "balanced" and fails every fit
            params = {**params, "class_weight": "balanced_subsample"}
        # n_jobs unset: one job when the model serves, every core while it trains (core/training.py)
        return cls(random_state=seed, **params)
    if family == "logistic_regression":
        return LogisticRegression(random_state=seed, **params)
    if family == "ridge":
        return Ridge(random_state=seed, **params)
    return LinearRegression(**params)


def is_imbalanced(y: object) -> bool:
    """True when the rarest class is at least ``IMBALANCE_RATIO`` times rarer than the most common."""
    counts = pd.Series(np.asarray(y, dtype=object)).value_counts()
    return len(counts) > 1 and counts.iloc[0] >= IMBALANCE_RATIO * counts.iloc[-1]


def default_candidates(task: Task, rows: int, y: object | None = None) -> list[dict[str, Any]]:
    """Starter candidates sized to the rows (for ``perennial init``): config ``training.candidates`` entries.

    An imbalanced multiclass target gets ``class_weight: balanced`` on the families that take it.
    """
    weight = {"class_weight": "balanced"} if task == "multiclass" and y is not None and is_imbalanced(y) else {}
    iterations = 200 if rows < 50_000 else 400
    linear = (
        {"name": "ridge", "family": "ridge", "params": {"alpha": 1.0}}
        if task == "regression"
        else {"name": "logistic", "family": "logistic_regression", "params": {"max_iter": 1000, "C": 1.0, **weight}}
    )
    hgb_params: dict[str, Any] = {"max_iter": iterations, "learning_rate": 0.1}
    if task == "regression":  # init judges a regression by MAE: fit it, not the squared error a long
        hgb_params = {"loss": "absolute_error", **hgb_params}  # tail dominates (the mean's MAE was never beaten)
    if weight:
        hgb_params |= weight
    out = [{"name": "hgb", "family": "hist_gradient_boosting", "params": hgb_params}, linear]
    if rows <= 20_000:  # a forest's size and fit time grow with rows: only on small tables
        out.append(
            {
                "name": "forest",
                "family": "random_forest",
                "params": {"n_estimators": 200, "min_samples_leaf": 5, **weight},
            }
        )
    return out


def make_baseline(task: Task, strategy: str, seed: int, time_column: str | None = None) -> Any:
    """The feature-blind model of ``strategy`` for ``task``."""
    if task != "regression":
        if strategy not in ("prior", "stratified"):
            raise ValueError(f"baseline '{strategy}' does not apply to a {task} target; use prior or stratified")
        return DummyClassifier(strategy=strategy, random_state=seed)
    if strategy in ("mean", "median"):
        return DummyRegressor(strategy=strategy)
    if strategy not in ("last_value", "seasonal_naive"):
        raise ValueError(f"baseline '{strategy}' does not apply to a regression target")
    if time_column is None:
        raise ValueError(f"baseline '{strategy}' needs data.time_column: it forecasts from the latest rows")
    return SeasonalNaive(time_column, seasonal=strategy == "seasonal_naive")


class SeasonalNaive(RegressorMixin, BaseEstimator):  # type: ignore[misc]  # sklearn is untyped (Any)
    """Last value or seasonal naive for tabular rows with a timestamp.

    ``last_value``: every row gets the mean target of the training window's latest day (a day has
    many rows in event data; one row's value would be noise). ``seasonal``: the mean target at the
    same weekday and hour over the latest week of training, the last value where that week lacks it.
    """

    def __init__(self, time_column: str, seasonal: bool = True) -> None:
        self.time_column = time_column
        self.seasonal = seasonal

    def _times(self, X: pd.DataFrame) -> pd.Series:
        if self.time_column not in X.columns:
            raise ValueError(f"the {type(self).__name__} baseline needs the time column '{self.time_column}'")
        return pd.to_datetime(X[self.time_column], utc=True)

    def fit(self, X: pd.DataFrame, y: object) -> SeasonalNaive:
        times, target = self._times(X), pd.Series(np.asarray(y, dtype=np.float64), index=X.index)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)  # what model_inputs hands it later
        latest = times.max()
        self.last_value_ = float(target[times >= latest.normalize()].mean())
        week = times >= latest - pd.Timedelta(days=7)
        keys = _season(times[week])
        self.season_ = target[week].groupby(keys.to_numpy()).mean().to_dict()
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if not self.seasonal:
            return np.full(len(X), self.last_value_)
        keys = _season(self._times(X))
        return np.array([self.season_.get(k, self.last_value_) for k in keys], dtype=np.float64)


def _season(times: pd.Series) -> pd.Series:
    keys: pd.Series = times.dt.dayofweek * 24 + times.dt.hour
    return keys
