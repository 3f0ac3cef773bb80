"""Label-free performance: CBPE per class (multiclass) and direct loss estimation (regression)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from perennial.core.label_free import (
    ClassCalibration,
    ClassReference,
    LossEstimator,
    LossReference,
    estimate_multiclass,
    estimate_roc_auc,
    fit_reference,
)


def calibrated_rows(rows: int, seed: int, sharp: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from the probabilities themselves: perfectly calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(rows, 3)) * sharp
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=p) for p in proba])
    return np.array(["a", "b", "c"], dtype=object)[labels], proba


def test_cbpe_estimates_accuracy_and_per_class_recall_of_calibrated_probabilities() -> None:
    # given calibrated probabilities and the labels they imply
    y, proba = calibrated_rows(6000, seed=0)
    predicted = np.array(["a", "b", "c"], dtype=object)[proba.argmax(axis=1)]
    # when estimated without looking at the labels
    found = estimate_multiclass(proba, ["a", "b", "c"])
    # then the estimates are within 0.02 of the realised values
    assert found.accuracy == pytest.approx(skm.accuracy_score(y, predicted), abs=0.02)
    assert found.macro_f1 == pytest.approx(skm.f1_score(y, predicted, average="macro"), abs=0.02)
    recall = skm.recall_score(y, predicted, average=None, labels=["a", "b", "c"])
    assert [c.recall for c in found.classes] == pytest.approx(recall.tolist(), abs=0.03)


def test_calibration_on_the_reference_corrects_overconfident_probabilities() -> None:
    # given an overconfident model: its probabilities are sharpened versions of the true ones
    y, proba = calibrated_rows(8000, seed=1)
    sharp = proba**3 / (proba**3).sum(axis=1, keepdims=True)
    reference, window = slice(0, 4000), slice(4000, 8000)
    realised = skm.accuracy_score(y[window], np.array(["a", "b", "c"])[sharp[window].argmax(axis=1)])
    # when estimated raw, and after calibrating on the labelled reference
    raw = estimate_multiclass(sharp[window], ["a", "b", "c"])
    calibration = ClassCalibration.fit(y[reference], sharp[reference], ["a", "b", "c"])
    calibrated = estimate_multiclass(sharp[window], ["a", "b", "c"], calibration)
    # then the raw estimate is too optimistic and the calibrated one close
    assert raw.accuracy - realised > 0.05
    assert calibrated.accuracy == pytest.approx(realised, abs=0.02)


def test_direct_loss_estimation_follows_the_error_into_a_noisier_region() -> None:
    # given a regressor whose errors grow with x (noise sd 1 where x < 0, 5 where x > 0)
    rng = np.random.default_rng(0)

    def rows(n: int, low: float, high: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        x = rng.uniform(low, high, n)
        shop = rng.choice(["a", "b"], n)
        truth = 3 * x + rng.normal(0, np.where(x > 0, 5.0, 1.0))
        return pd.DataFrame({"x": x, "shop": shop}), truth, 3 * x

    X_ref, y_ref, p_ref = rows(4000, -1, 1)
    estimator = LossEstimator(seed=0, max_iter=30).fit(X_ref, y_ref, p_ref)
    # when a window falls mostly into the noisy region (its labels unseen)
    X_new, y_new, p_new = rows(3000, -0.2, 1)
    found = estimator.estimate(X_new, p_new)
    # then the estimated MAE and RMSE match the realised ones, and exceed the reference's
    assert found.mae == pytest.approx(skm.mean_absolute_error(y_new, p_new), rel=0.1)
    assert found.rmse == pytest.approx(skm.root_mean_squared_error(y_new, p_new), rel=0.1)
    assert found.mae > 1.3 * skm.mean_absolute_error(y_ref, p_ref)


def test_the_expected_auc_of_calibrated_scores_matches_the_auc_their_labels_give() -> None:
    # given calibrated scores (labels drawn with the scores' probabilities)
    rng = np.random.default_rng(3)
    p = rng.beta(0.6, 1.4, 40_000)
    y = rng.uniform(size=len(p)) < p
    # when the AUC is estimated without the labels / then it is the one the labels give
    assert estimate_roc_auc(p) == pytest.approx(skm.roc_auc_score(y, p), abs=0.01)
    # and scores shifted towards the middle (less separable) estimate a lower AUC: the drop a shift causes
    vague = np.clip(rng.normal(0.45, 0.05, 40_000), 0, 1)
    assert estimate_roc_auc(vague) < estimate_roc_auc(p) - 0.1
    # and too few or one-sided scores estimate nothing
    assert np.isnan(estimate_roc_auc([0.4])) and np.isnan(estimate_roc_auc([0.0, 0.0]))


def noisy_rows(
    rng: np.random.Generator, n: int, low: float, high: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A regressor's inputs, truth and prediction: noise sd 1 where x < 0, 5 where x > 0."""
    x = rng.uniform(low, high, n)
    truth = 3 * x + rng.normal(0, np.where(x > 0, 5.0, 1.0))
    return pd.DataFrame({"x": x, "shop": rng.choice(["a", "b"], n)}), truth, 3 * x


def test_a_loss_reference_measures_its_holdout_and_signs_the_drop_as_a_rise_of_the_primary_error() -> None:
    # given a loss reference fitted on a holdout spanning the calm and the noisy region
    rng = np.random.default_rng(4)
    X_ref, y_ref, p_ref = noisy_rows(rng, 3000, -1, 1)
    reference = LossReference.fit(X_ref, y_ref, p_ref, seed=0)
    # then it carries the holdout's measured errors
    assert reference.measured.mae == pytest.approx(skm.mean_absolute_error(y_ref, p_ref))
    assert reference.measured.rmse == pytest.approx(skm.root_mean_squared_error(y_ref, p_ref))
    # when a calmer and a noisier window are estimated under MAE, RMSE and R² as the primary metric
    calm, _, p_calm = noisy_rows(rng, 1000, -1, -0.2)
    noisy, _, p_noisy = noisy_rows(rng, 1000, 0.2, 1)
    by_mae = reference.estimates(noisy, p_noisy, "mae")
    by_rmse = reference.estimates(noisy, p_noisy, "rmse")
    calm_mae = reference.estimates(calm, p_calm, "mae")
    by_r2 = reference.estimates(noisy, p_noisy, "r2")
    # then the drop is the expected error minus the holdout's, in the primary metric's units: up in the
    # noisy window, down in the calm one; no drop for a metric the estimator does not estimate
    assert by_mae is not None and by_rmse is not None and calm_mae is not None and by_r2 is not None
    assert by_mae["estimated_drop"] == pytest.approx(by_mae["estimated_mae"] - reference.measured.mae)
    assert by_rmse["estimated_drop"] == pytest.approx(by_rmse["estimated_rmse"] - reference.measured.rmse)
    assert by_mae["estimated_drop"] > 0.5 and calm_mae["estimated_drop"] < -0.5
    assert by_mae["estimated_drop"] != by_rmse["estimated_drop"]
    assert "estimated_drop" not in by_r2 and by_r2["estimated_mae"] == by_mae["estimated_mae"]
    # and an empty window estimates nothing
    assert reference.estimates(noisy.head(0), p_noisy[:0], "mae") is None


def test_the_loss_estimator_reads_only_the_columns_it_was_fitted_on_and_names_a_missing_one() -> None:
    # given an estimator fitted on x and shop
    rng = np.random.default_rng(5)
    X, y, p = noisy_rows(rng, 800, -1, 1)
    estimator = LossEstimator(seed=0, max_iter=20).fit(X, y, p)
    # when a window carries an extra column, in another order / then the estimate is the same
    wider = X.assign(extra=rng.normal(size=len(X)))[["extra", "shop", "x"]]
    assert estimator.estimate(wider, p).mae == estimator.estimate(X, p).mae
    # while other values in a column it reads change it
    assert estimator.estimate(wider.assign(x=-wider["x"]), p).mae != estimator.estimate(X, p).mae
    # when a window lacks one / then the error names it
    with pytest.raises(ValueError, match=r"\['shop'\]"):
        estimator.estimate(X.drop(columns=["shop"]), p)


def test_a_class_reference_calibrates_the_window_by_class_name_and_signs_the_drop_as_a_fall() -> None:
    # given an overconfident model's holdout and a later window from the same world
    y, proba = calibrated_rows(8000, seed=6)
    sharp = proba**3 / (proba**3).sum(axis=1, keepdims=True)
    holdout, window = slice(0, 4000), slice(4000, 8000)
    reference = ClassReference.fit(y[holdout], sharp[holdout], ["a", "b", "c"])
    guess = np.array(["a", "b", "c"])[sharp[holdout].argmax(axis=1)]
    assert reference.accuracy == pytest.approx(skm.accuracy_score(y[holdout], guess))
    assert reference.macro_f1 == pytest.approx(skm.f1_score(y[holdout], guess, average="macro"))
    # when the window's probability columns come in another order
    ordered = reference.estimates(sharp[window], ["a", "b", "c"], "macro_f1")
    shuffled = reference.estimates(sharp[window][:, [2, 0, 1]], ["c", "a", "b"], "macro_f1")
    # then the estimate is the same, and the drop is the holdout's macro-F1 minus the expected one
    assert ordered is not None and shuffled is not None
    assert shuffled == pytest.approx(ordered)
    assert ordered["estimated_drop"] == pytest.approx(reference.macro_f1 - ordered["estimated_macro_f1"])
    by_accuracy = reference.estimates(sharp[window], ["a", "b", "c"], "accuracy")
    assert by_accuracy is not None
    assert by_accuracy["estimated_drop"] == pytest.approx(reference.accuracy - by_accuracy["estimated_accuracy"])
    assert by_accuracy["estimated_drop"] != ordered["estimated_drop"]
    # and the calibrated estimate is near the realised accuracy where the raw one is not
    realised = skm.accuracy_score(y[window], np.array(["a", "b", "c"])[sharp[window].argmax(axis=1)])
    assert ordered["estimated_accuracy"] == pytest.approx(realised, abs=0.02)
    assert estimate_multiclass(sharp[window], ["a", "b", "c"]).accuracy - realised > 0.05
    # and other classes, or a metric CBPE does not estimate, give no calibrated figure or no drop
    assert reference.estimates(sharp[window], ["a", "b", "d"], "macro_f1") is None
    log_loss = reference.estimates(sharp[window], ["a", "b", "c"], "log_loss")
    assert log_loss is not None and "estimated_drop" not in log_loss


def test_the_reference_fitted_per_task() -> None:
    # given one labelled holdout per task
    rng = np.random.default_rng(7)
    X, y, p = noisy_rows(rng, 300, -1, 1)
    labels, proba = calibrated_rows(300, seed=7)
    # when fitted / then regression gets a loss reference, multiclass a class reference, binary none
    assert isinstance(fit_reference("regression", X, y, p, ()), LossReference)
    assert isinstance(fit_reference("multiclass", X, labels, proba, ["a", "b", "c"]), ClassReference)
    assert fit_reference("binary", X, (y > 0).astype(int), rng.uniform(size=300), ()) is None


def test_the_loss_estimator_fits_a_column_of_more_categories_than_its_trees_split_on() -> None:
    # given a regression holdout whose 'sku' holds 1,000 codes (the trees split on at most 255)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=3000), "sku": [f"s{i % 1000}" for i in range(3000)]})
    y = X["x"] * 2 + rng.normal(size=3000)
    p = X["x"].to_numpy() * 2
    # when it fits / then it does (it raised "cardinality <= 255 ... 1000"), keeping the most frequent codes
    estimator = LossEstimator(seed=0, max_iter=20).fit(X, y, p)
    assert len(estimator.categories["sku"]) == 255
    assert estimator.estimate(X.head(50), p[:50]).rows == 50
