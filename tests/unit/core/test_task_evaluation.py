"""Regression and multiclass holdout scores through the same gate as binary, plus per-class recall checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

from perennial.config import Bootstrap, Evaluation, Gate
from perennial.core.evaluation import Scores
from perennial.core.gates import check_promotion
from perennial.core.task_evaluation import (
    class_recall_checks,
    class_recall_differences,
    score_task_predictions,
    task_paired_difference,
)

REGRESSION = Evaluation(
    primary_metric="mae", secondary_metrics=("rmse", "r2"), bootstrap=Bootstrap(resamples=100), min_slice_rows=20
)
MULTICLASS = Evaluation(
    primary_metric="macro_f1", secondary_metrics=("log_loss", "balanced_accuracy"), bootstrap=Bootstrap(resamples=100)
)
IRIS = np.array(["setosa", "versicolor", "virginica"], dtype=object)


def diabetes() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    frame = load_diabetes(as_frame=True).frame
    frame["sex_group"] = np.where(frame["sex"] > 0, "m", "f")
    train, test = train_test_split(frame, test_size=0.5, random_state=0)
    columns = [c for c in frame.columns if c not in ("target", "sex_group")]
    model = Ridge(alpha=0.1).fit(train[columns], train["target"])
    mean = np.full(len(test), train["target"].mean())
    return test, test["target"].to_numpy(), model.predict(test[columns]), mean


def test_a_regressor_beats_the_mean_baseline_and_the_gate_reads_mae_as_lower_is_better() -> None:
    # given a ridge model and the mean baseline on diabetes, sliced by sex
    test, y, ridge, mean = diabetes()
    slices = test[["sex_group"]].reset_index(drop=True)
    # when both are scored and gated
    candidate = score_task_predictions("candidate:ridge", "regression", y, ridge, (), slices, REGRESSION)
    baseline = score_task_predictions("baseline", "regression", y, mean, (), slices, REGRESSION)
    gate = Gate(min_primary=60.0, min_lift_over_baseline=5.0, min_slice_primary=70.0)
    report = check_promotion(candidate, baseline, None, None, gate, "mae")
    # then MAE is lower for ridge, the lift is baseline minus candidate MAE, every slice is under its ceiling
    assert candidate.primary.name == "mae" and candidate.primary.value < baseline.primary.value
    assert [s.value for s in candidate.slices] == ["f", "m"]
    assert report.passed, report.summary()
    lift = next(c for c in report.checks if c.name == "beats baseline")
    assert lift.value == pytest.approx(baseline.primary.value - candidate.primary.value)
    # and the mean baseline against itself as a candidate fails the lift
    assert not check_promotion(baseline, baseline, None, None, gate, "mae").passed


def test_regression_scores_survive_a_json_round_trip_without_binary_fields() -> None:
    test, y, ridge, _ = diabetes()
    scores = score_task_predictions("candidate:ridge", "regression", y, ridge, (), None, REGRESSION)
    again = Scores.from_dict(scores.to_dict())
    assert again == scores
    assert "confusion.tp" not in scores.metrics() and {"mae", "rmse_low", "r2_high"} <= set(scores.metrics())


def test_the_champion_check_on_mae_fails_a_confidently_worse_regressor() -> None:
    # given ridge (champion) and the mean predictor (candidate) on the same rows
    _, y, ridge, mean = diabetes()
    champion = score_task_predictions("champion:v1", "regression", y, ridge, (), None, REGRESSION)
    candidate = score_task_predictions("candidate:mean", "regression", y, mean, (), None, REGRESSION)
    # when the paired MAE difference is judged
    diff = task_paired_difference("regression", y, mean, ridge, (), REGRESSION)
    report = check_promotion(candidate, candidate, champion, diff, Gate(min_lift_over_baseline=None), "mae")
    # then the candidate's MAE is higher with confidence: beats champion fails; ridge vs itself passes
    assert diff.name == "mae_diff" and diff.low > 0
    assert [c.name for c in report.failures] == ["beats champion"]
    same = task_paired_difference("regression", y, ridge, ridge, (), REGRESSION)
    assert check_promotion(champion, champion, champion, same, Gate(min_lift_over_baseline=None), "mae").passed


def iris_models() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    labels = IRIS[y]
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.5, random_state=1, stratify=labels)
    model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    # a model that never says "virginica": its probability goes to "versicolor"
    blind = proba.copy()
    blind[:, 1] += blind[:, 2]
    blind[:, 2] = 0
    return y_test, proba, blind, model.classes_


def test_multiclass_scores_carry_each_class_with_intervals() -> None:
    y, proba, _, classes = iris_models()
    scores = score_task_predictions("candidate:logistic", "multiclass", y, proba, classes, None, MULTICLASS)
    assert scores.task == "multiclass" and scores.primary.name == "macro_f1"
    assert [(c.name, c.support) for c in scores.classes] == [("setosa", 25), ("versicolor", 25), ("virginica", 25)]
    assert all(c.recall.low <= c.recall.value <= c.recall.high for c in scores.classes)
    assert "class.virginica.recall" in scores.metrics()
    assert Scores.from_dict(scores.to_dict()) == scores


def test_a_class_whose_recall_collapses_fails_its_own_check_and_others_pass() -> None:
    # given the champion and a candidate blind to virginica
    y, proba, blind, classes = iris_models()
    diffs = class_recall_differences(y, blind, proba, classes, MULTICLASS)
    # when each class's recall is checked with a 0.05 tolerance (virginica allowed 0.2)
    checks = class_recall_checks(diffs, Gate(max_class_recall_drop=0.05, class_recall_drop={"virginica": 0.2}))
    # then only virginica fails, naming its tolerance; with the model against itself all pass
    assert {c.name: c.passed for c in checks} == {
        "class setosa recall vs champion": True,
        "class versicolor recall vs champion": True,
        "class virginica recall vs champion": False,
    }
    assert "may trail by <=0.2" in next(c for c in checks if not c.passed).detail
    same = class_recall_differences(y, proba, proba, classes, MULTICLASS)
    assert all(c.passed for c in class_recall_checks(same, Gate(max_class_recall_drop=0.0)))


def test_class_recall_checks_without_a_policy_a_champion_or_with_an_unknown_class() -> None:
    y, proba, _, classes = iris_models()
    diffs = class_recall_differences(y, proba, proba, classes, MULTICLASS)
    assert class_recall_checks(diffs, Gate()) == []
    first = class_recall_checks(None, Gate(max_class_recall_drop=0.1))[0]
    assert first.passed and first.detail == "no champion yet"
    unknown = class_recall_checks(diffs, Gate(class_recall_drop={"rose": 0.1}))
    assert [c.name for c in unknown if not c.passed] == ["class rose recall vs champion"]
