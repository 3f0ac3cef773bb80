"""Regression and multiclass metrics: sklearn's values, and the same paired bootstrap as binary."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from perennial.config import Bootstrap
from perennial.core import task_metrics as tm
from perennial.core.task import METRICS_BY_TASK, check_metric, higher_is_better, sklearn_scorer

FAST = Bootstrap(resamples=200, seed=7)
WINE_NAMES = np.array(["barolo", "grignolino", "barbera"], dtype=object)


def diabetes(alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0)
    return y_test, Ridge(alpha=alpha).fit(X_train, y_train).predict(X_test)


def wine(C: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_wine(return_X_y=True)
    labels = WINE_NAMES[y]
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.5, random_state=0, stratify=labels)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(X_train, y_train)
    return y_test, model.predict_proba(X_test), model.classes_


def sk_regression(name: str, y: np.ndarray, p: np.ndarray, q: float = 0.5) -> float:
    return {
        "mae": skm.mean_absolute_error,
        "rmse": skm.root_mean_squared_error,
        "r2": skm.r2_score,
        "mape": skm.mean_absolute_percentage_error,
        "pinball": lambda a, b: skm.mean_pinball_loss(a, b, alpha=q),
    }[name](y, p)


def sk_multiclass(name: str, y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    predicted = classes[proba.argmax(axis=1)]
    return {
        "macro_f1": lambda: skm.f1_score(y, predicted, average="macro"),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, predicted),
        "log_loss": lambda: skm.log_loss(y, proba, labels=classes),
        "accuracy": lambda: skm.accuracy_score(y, predicted),
        "top_k_accuracy": lambda: skm.top_k_accuracy_score(y, proba, k=2, labels=classes),
    }[name]()


@pytest.mark.parametrize("name", METRICS_BY_TASK["regression"])
def test_regression_values_are_sklearns_on_the_full_and_the_resampled_rows(name: str) -> None:
    # given a ridge model's diabetes holdout and three resamples as row counts
    y, p = diabetes()
    rows = tm.RegressionRows(y, p, quantile=0.8)
    index = np.random.default_rng(3).integers(0, len(y), (3, len(y)))
    counts = np.stack([np.bincount(i, minlength=len(y)) for i in index]).astype(float)
    # when each is scored
    full = tm.estimate(rows, [name], FAST)[name]
    resampled = rows.values([name], counts)[0]
    # then the point value and each resample equal sklearn on the rows drawn, and the interval holds the value
    assert full.value == pytest.approx(sk_regression(name, y, p, 0.8), rel=1e-10)
    assert resampled == pytest.approx([sk_regression(name, y[i], p[i], 0.8) for i in index], rel=1e-10)
    assert full.low <= full.value <= full.high and full.low < full.high


@pytest.mark.parametrize("name", METRICS_BY_TASK["multiclass"])
def test_multiclass_values_are_sklearns_on_the_full_and_the_resampled_rows(name: str) -> None:
    # given a weak logistic model on wine with text labels (so some rows are wrong)
    y, proba, classes = wine(C=0.002)
    rows = tm.MulticlassRows(y, proba, classes, top_k=2)
    index = np.random.default_rng(4).integers(0, len(y), (3, len(y)))
    counts = np.stack([np.bincount(i, minlength=len(y)) for i in index]).astype(float)
    # when each is scored
    full = tm.estimate(rows, [name], FAST)[name]
    resampled = rows.values([name], counts)[0]
    # then it is sklearn's value, on all rows and on each resample
    assert full.value == pytest.approx(sk_multiclass(name, y, proba, classes), rel=1e-10)
    assert resampled == pytest.approx([sk_multiclass(name, y[i], proba[i], classes) for i in index], rel=1e-10)
    assert full.low <= full.value <= full.high


def test_macro_f1_leaves_out_a_class_neither_labelled_nor_predicted_in_the_rows() -> None:
    # given a strong wine model's rows without any barbera (a window where that grape was not picked)
    y, proba, classes = wine(C=1.0)
    kept = (y != "barbera") & (classes[proba.argmax(axis=1)] != "barbera")
    rows = tm.MulticlassRows(y[kept], proba[kept], classes, top_k=2)
    # when macro F1 is measured
    found = tm.estimate(rows, ["macro_f1"], FAST)["macro_f1"].value
    # then it is the mean over the two classes present (sklearn's default), not a third lower for the absent one
    predicted = classes[proba[kept].argmax(axis=1)]
    assert found == pytest.approx(skm.f1_score(y[kept], predicted, average="macro"), rel=1e-10) and found > 0.9
    counted_as_zero = skm.f1_score(y[kept], predicted, average="macro", labels=classes, zero_division=0)
    assert counted_as_zero < 0.7 < found


def test_macro_f1_leaves_out_a_class_absent_from_the_labels_though_the_model_called_it_a_few_times() -> None:
    # given a month without barbera in its labels, where the model still called barbera on a few rows
    y, proba, classes = wine(C=1.0)
    labelled = y != "barbera"
    called = classes[proba[labelled].argmax(axis=1)] == "barbera"
    assert 0 < called.sum() < 0.2 * labelled.sum()  # a few false calls, as a real model makes
    rows = tm.MulticlassRows(y[labelled], proba[labelled], classes, top_k=2)
    # when macro F1 is measured
    found = tm.estimate(rows, ["macro_f1"], FAST)["macro_f1"].value
    # then it is over the labelled classes (sklearn with labels=those present): the false calls still cost
    # their recall, but the absent class does not count as an F1 of 0 (a third off: a confirmed drop)
    predicted = classes[proba[labelled].argmax(axis=1)]
    present = np.unique(y[labelled])
    assert found == pytest.approx(skm.f1_score(y[labelled], predicted, average="macro", labels=present), rel=1e-10)
    assert skm.f1_score(y[labelled], predicted, average="macro") < found


def test_mape_is_undefined_when_the_target_reaches_zero() -> None:
    # given a target with one zero
    y, p = np.array([0.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0])
    # when MAPE and MAE are estimated / then MAPE is NaN, MAE is not
    found = tm.estimate(tm.RegressionRows(y, p), ["mape", "mae"], FAST)
    assert np.isnan(found["mape"].value)
    assert found["mae"].value == pytest.approx(2 / 3)


def test_a_paired_difference_separates_a_better_regressor_and_not_an_equal_one() -> None:
    # given a ridge model and a heavily over-regularised one on the same rows
    y, good = diabetes(alpha=0.01)
    _, bad = diabetes(alpha=100.0)
    a, b = tm.RegressionRows(y, good), tm.RegressionRows(y, bad)
    # when MAE of good minus bad, and of good minus itself, are estimated
    better = tm.estimate_difference(a, b, "mae", FAST)
    same = tm.estimate_difference(a, a, "mae", FAST)
    # then the better model's MAE is lower with confidence; itself differs by exactly zero
    assert better.value == pytest.approx(skm.mean_absolute_error(y, good) - skm.mean_absolute_error(y, bad))
    assert better.high < 0
    assert same == (0.0, 0.0, 0.0)


def test_per_class_recall_and_precision_match_sklearn_with_intervals() -> None:
    # given wine predictions
    y, proba, classes = wine(C=0.002)
    # when each class is estimated
    found = tm.class_estimates(tm.MulticlassRows(y, proba, classes), classes, FAST)
    predicted = classes[proba.argmax(axis=1)]
    recall = skm.recall_score(y, predicted, labels=classes, average=None)
    precision = skm.precision_score(y, predicted, labels=classes, average=None, zero_division=0)
    # then each class's value is sklearn's, inside its interval
    for i, c in enumerate(classes):
        assert found["recall"][c].value == pytest.approx(recall[i])
        assert found["precision"][c].value == pytest.approx(precision[i])
        assert found["recall"][c].low <= recall[i] <= found["recall"][c].high


def test_class_recall_differences_see_a_class_a_model_gave_up() -> None:
    # given a model and a copy that never predicts "barbera" (its probability moved to "barolo")
    y, proba, classes = wine()
    worse = proba.copy()
    col = {c: i for i, c in enumerate(classes)}
    worse[:, col["barolo"]] += worse[:, col["barbera"]]
    worse[:, col["barbera"]] = 0
    # when per-class recall differences are estimated
    diffs = tm.class_recall_differences(
        tm.MulticlassRows(y, worse, classes), tm.MulticlassRows(y, proba, classes), classes, FAST
    )
    # then barbera's recall fell to zero with confidence; grignolino's did not move
    assert diffs["barbera"].high < -0.5
    assert diffs["grignolino"] == (0.0, 0.0, 0.0)


def test_labels_outside_the_classes_and_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"labels \['rose'\] are not among the model's classes"):
        tm.MulticlassRows(["rose"], [[0.5, 0.5]], ["red", "white"])
    with pytest.raises(ValueError, match="expected a 1 x 3 probability matrix"):
        tm.MulticlassRows(["red"], [[0.5, 0.5]], ["red", "white", "rose"])
    with pytest.raises(ValueError, match="2 targets but 1 predictions"):
        tm.RegressionRows([1.0, 2.0], [1.0])


def test_direction_and_task_fit_of_every_metric() -> None:
    # errors and losses are lower-is-better, scores higher-is-better, whatever the task
    assert [higher_is_better(n) for n in METRICS_BY_TASK["regression"]] == [False, False, True, False, False]
    assert [higher_is_better(n) for n in METRICS_BY_TASK["multiclass"]] == [True, True, False, True, True]
    with pytest.raises(ValueError, match="metric 'roc_auc' does not apply to a regression task"):
        check_metric("regression", "roc_auc")
    assert sklearn_scorer("regression", "mae") == "neg_mean_absolute_error"
    assert sklearn_scorer("binary", "log_loss") == "neg_log_loss"


def test_regression_and_multiclass_intervals_of_a_large_window_come_from_a_narrowed_subset() -> None:
    # given 30,000 regression rows and 30,000 three-class rows (synthetic, with signal)
    rng = np.random.default_rng(0)
    x = rng.normal(size=30_000)
    regression = tm.RegressionRows(3 * x + rng.normal(size=30_000), 3 * x)
    scores = np.stack([x, -x, 0.3 * rng.normal(size=30_000)], axis=1)
    proba = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    labels = WINE_NAMES[(proba.cumsum(axis=1) < rng.uniform(size=(30_000, 1))).sum(axis=1)]
    multiclass = tm.MulticlassRows(labels, proba, WINE_NAMES)
    for rows, name in ((regression, "mae"), (multiclass, "macro_f1")):
        # when bootstrapped whole and from a 3,000-row subset
        whole = tm.estimate(rows, [name], Bootstrap(resamples=200, max_rows=30_000))[name]
        subset = tm.estimate(rows, [name], Bootstrap(resamples=200, max_rows=3_000))[name]
        # then the same value and as wide an interval (unnarrowed: sqrt(10) = 3.2 times wider)
        assert subset.value == whole.value
        assert 0.75 < (subset.high - subset.low) / (whole.high - whole.low) < 1.33, name
