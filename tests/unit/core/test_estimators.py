"""Candidate estimators and baselines per task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import load_diabetes, load_iris

from perennial.core.estimators import SeasonalNaive, default_candidates, is_imbalanced, make_baseline, make_estimator
from perennial.core.task import FAMILIES


@pytest.mark.parametrize(("task", "family"), [(t, f) for t, fs in FAMILIES.items() for f in fs])
def test_every_family_of_every_task_fits_and_predicts(task: str, family: str) -> None:
    # given a bundled dataset of the task's kind
    X, y = load_diabetes(return_X_y=True) if task == "regression" else load_iris(return_X_y=True)
    if task == "binary":
        y = (y == 2).astype(int)
    params = {"max_iter": 500} if family == "logistic_regression" else {}
    # when the family's estimator for the task is fitted
    model = make_estimator(task, family, params, [False] * X.shape[1], seed=0).fit(X[:120], y[:120])
    # then it is a regressor for regression and a classifier otherwise, with one output per row
    assert is_regressor(model) if task == "regression" else is_classifier(model)
    assert model.predict(X[120:]).shape == (len(X) - 120,)


def test_a_family_that_cannot_fit_the_task_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="model family 'logistic_regression' cannot fit a regression target"):
        make_estimator("regression", "logistic_regression", {}, [False], seed=0)
    with pytest.raises(ValueError, match="model family 'ridge' cannot fit a multiclass target"):
        make_estimator("multiclass", "ridge", {}, [False], seed=0)


def test_an_imbalanced_multiclass_target_gets_balanced_class_weights() -> None:
    # given a balanced and an imbalanced three-class target
    balanced = np.repeat(["a", "b", "c"], 100)
    imbalanced = np.repeat(["a", "b", "c"], [500, 100, 20])
    # when starter candidates are proposed
    plain, weighted = default_candidates("multiclass", 300, balanced), default_candidates("multiclass", 620, imbalanced)
    # then only the imbalanced target's candidates weigh classes, and regression gets a ridge, no weights
    assert is_imbalanced(imbalanced) and not is_imbalanced(balanced)
    assert all("class_weight" not in c["params"] for c in plain)
    assert {c["params"].get("class_weight") for c in weighted} == {"balanced"}
    regression = default_candidates("regression", 1000)
    assert [c["family"] for c in regression] == ["hist_gradient_boosting", "ridge", "random_forest"]
    assert [c["family"] for c in default_candidates("regression", 100_000)] == ["hist_gradient_boosting", "ridge"]


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "logistic_regression", "random_forest"])
def test_balanced_weights_fit_classes_written_as_numbers(family: str) -> None:
    # given wine-quality grades as class names ('3'...'9', the rarest held 5 times), weighed balanced
    X, grades = load_iris(return_X_y=True)
    y = np.array([str(3 + g * 3) for g in grades], dtype=object)
    y[:5] = "9"
    model = make_estimator(
        "multiclass",
        family,
        {"class_weight": "balanced", "max_iter": 500}
        if family != "random_forest"
        else {"class_weight": "balanced", "n_estimators": 20},
        [False] * 4,
        seed=0,
    )
    # when it is cross-validated as training does (each fold's fit sees the classes as text)
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(model, X, y, cv=3, error_score="raise")
    # then every fold fits (the forest's "balanced" failed on them: 'The classes [3, 6, 9] are not in class_weight')
    assert len(scores) == 3 and np.isfinite(scores).all()


def test_mean_and_median_baselines_ignore_the_features() -> None:
    # given a skewed target
    X, y = np.zeros((5, 1)), np.array([1.0, 1.0, 2.0, 3.0, 100.0])
    # when the baselines are fitted / then they predict the training mean and median everywhere
    assert make_baseline("regression", "mean", 0).fit(X, y).predict(X[:2]).tolist() == [21.4, 21.4]
    assert make_baseline("regression", "median", 0).fit(X, y).predict(X[:2]).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="baseline 'mean' does not apply to a multiclass target"):
        make_baseline("multiclass", "mean", 0)
    with pytest.raises(ValueError, match="needs data.time_column"):
        make_baseline("regression", "seasonal_naive", 0)


def test_seasonal_naive_repeats_last_weeks_hour_and_last_value_the_last_day() -> None:
    # given two weeks of hourly rows whose target is the hour, plus a jump on the last day
    times = pd.date_range("2024-01-01", periods=24 * 14, freq="h", tz="UTC")
    y = times.hour.to_numpy(dtype=float) + np.where(times >= "2024-01-14", 100.0, 0.0)
    X = pd.DataFrame({"at": times, "x": 0.0})
    future = pd.DataFrame({"at": pd.date_range("2024-01-15 00:00", periods=3, freq="h", tz="UTC"), "x": 0.0})
    # when the seasonal and last-value baselines are fitted
    seasonal = make_baseline("regression", "seasonal_naive", 0, "at").fit(X, y)
    last = make_baseline("regression", "last_value", 0, "at").fit(X, y)
    # then Monday 00-02h gets last Monday's 0, 1, 2; the last value is the last day's mean (11.5 + 100)
    assert isinstance(seasonal, SeasonalNaive)
    assert seasonal.predict(future).tolist() == [0.0, 1.0, 2.0]
    assert last.predict(future).tolist() == [111.5] * 3


def test_the_starter_boosting_candidate_of_a_long_tailed_target_beats_the_mean_by_inits_margin() -> None:
    # given delays drawn lognormal (a long legitimate tail) from two features, 8,000 rows to learn from
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (12_000, 2))
    y = np.exp(2.0 + 0.5 * x[:, 0] + 0.3 * x[:, 1] + rng.normal(0, 1.4, 12_000))
    train, test = slice(0, 8_000), slice(8_000, None)
    # when init's boosting candidate is fit, judged by MAE as init's config judges a regression
    (hgb,) = [c for c in default_candidates("regression", 8_000) if c["family"] == "hist_gradient_boosting"]
    model = make_estimator("regression", hgb["family"], hgb["params"], [False, False], 0).fit(x[train], y[train])
    mae = float(np.mean(np.abs(model.predict(x[test]) - y[test])))
    mean_mae = float(np.mean(np.abs(y[train].mean() - y[test])))
    # then it beats a mean predictor by more than init's 5% margin (squared loss, chasing the tail,
    # did not: no champion on such a table)
    assert hgb["params"]["loss"] == "absolute_error"
    assert mean_mae - mae > 0.05 * mean_mae, (mae, mean_mae)
