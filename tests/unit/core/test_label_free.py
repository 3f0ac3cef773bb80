"""Label-free performance: CBPE per class (multiclass) and direct loss estimation (regression)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from perennial.core.label_free import ClassCalibration, LossEstimator, estimate_multiclass, estimate_roc_auc


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
