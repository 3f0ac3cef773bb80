from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from perennial.config import Bootstrap
from perennial.core.estimate import Estimate
from perennial.core.metrics import (
    LEAN_ROWS,
    METRICS,
    WeightedRows,
    bootstrap_interval,
    estimate_difference,
    estimate_metrics,
    higher_is_better,
    lean_roc_auc,
    metric_value,
)

FAST = Bootstrap(resamples=200, seed=7)


def synthetic(rows: int, seed: int = 0, signal: float = 1.0, decimals: int | None = 3) -> tuple[np.ndarray, np.ndarray]:
    """Labels with real signal in the score; rounded scores give ties, as trees do."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-x))).astype(np.int64)
    proba = 1 / (1 + np.exp(-signal * x))
    return y, (np.round(proba, decimals) if decimals is not None else proba)


def sklearn_value(name: str, y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    predicted = (p >= threshold).astype(int)
    return {
        "roc_auc": lambda: skm.roc_auc_score(y, p),
        "average_precision": lambda: skm.average_precision_score(y, p),
        "log_loss": lambda: skm.log_loss(y, p),
        "brier": lambda: skm.brier_score_loss(y, p),
        "f1": lambda: skm.f1_score(y, predicted),
        "accuracy": lambda: skm.accuracy_score(y, predicted),
    }[name]()


@pytest.mark.parametrize("name", METRICS)
def test_point_values_are_sklearns(name: str) -> None:
    # given predictions with signal / when a metric is computed by name
    y, p = synthetic(500)
    # then it is sklearn's value, f1 and accuracy at the given threshold
    assert metric_value(name, y, p, threshold=0.4) == pytest.approx(sklearn_value(name, y, p, 0.4), abs=1e-12)


@pytest.mark.parametrize("name", METRICS)
def test_resampled_values_equal_sklearn_on_the_resampled_rows(name: str) -> None:
    # given tied scores and three bootstrap resamples expressed as row counts
    y, p = synthetic(400, seed=1, decimals=2)
    index = np.random.default_rng(2).integers(0, len(y), (3, len(y)))
    counts = np.stack([np.bincount(i, minlength=len(y)) for i in index]).astype(float)
    # when the fast path scores the counts
    fast = WeightedRows(y, p, threshold=0.5).values([name], counts)[0]
    # then each equals sklearn on the rows actually drawn
    expected = [sklearn_value(name, y[i], p[i]) for i in index]
    assert fast == pytest.approx(expected, abs=1e-12)


def test_losses_are_lower_is_better_and_unknown_names_fail() -> None:
    assert [higher_is_better(n) for n in METRICS] == [True, True, False, False, True, True]
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        higher_is_better("auc")


def test_undefined_metrics_are_nan_not_errors() -> None:
    # given labels of one class only
    y, p = np.zeros(20, dtype=int), np.linspace(0.1, 0.9, 20)
    # then ranking metrics are NaN, losses are still defined
    assert np.isnan(metric_value("roc_auc", y, p)) and np.isnan(metric_value("average_precision", y, p))
    assert np.isfinite(metric_value("log_loss", y, p)) and np.isfinite(metric_value("brier", y, p))


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        metric_value("roc_auc", [0, 1, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="0/1"):
        metric_value("roc_auc", [0, 2], [0.2, 0.8])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metric_value("roc_auc", [0, 1], [0.2, 1.8])


def test_interval_contains_the_estimate_and_narrows_with_more_rows() -> None:
    # given the same kind of predictions on 300 and on 5000 rows
    names = ["roc_auc", "average_precision", "log_loss", "brier", "f1", "accuracy"]
    small = estimate_metrics(*synthetic(300, seed=3), names, FAST)
    large = estimate_metrics(*synthetic(5000, seed=3), names, FAST)
    # then every interval holds its estimate, and the larger sample's is narrower
    for name in names:
        for est in (small[name], large[name]):
            assert est.low <= est.value <= est.high, (name, est)
        assert large[name].high - large[name].low < small[name].high - small[name].low, name


def test_same_seed_draws_the_same_resamples() -> None:
    y, p = synthetic(300, seed=4)
    first = estimate_metrics(y, p, ["roc_auc"], FAST)
    assert estimate_metrics(y, p, ["roc_auc"], FAST) == first
    assert estimate_metrics(y, p, ["roc_auc"], Bootstrap(resamples=200, seed=8)) != first


def test_a_model_against_itself_differs_by_exactly_zero() -> None:
    y, p = synthetic(1000, seed=5)
    for name in METRICS:
        assert tuple(estimate_difference(y, p, p.copy(), name, FAST)) == (0.0, 0.0, 0.0), name


def test_a_clearly_better_model_has_an_interval_on_the_right_side() -> None:
    # given a sharp model and a blurred one on the same rows
    y, sharp = synthetic(2000, seed=6, signal=1.0)
    blurred = np.clip(sharp + np.random.default_rng(66).normal(0, 0.25, len(y)), 0, 1)
    # when compared, paired
    auc = estimate_difference(y, sharp, blurred, "roc_auc", FAST)
    loss = estimate_difference(y, sharp, blurred, "brier", FAST)
    # then AUC is confidently higher and the Brier loss confidently lower
    assert 0 < auc.low <= auc.value <= auc.high
    assert loss.low <= loss.value <= loss.high < 0


def test_resamples_with_one_class_do_not_crash_the_interval() -> None:
    # given 40 rows with 2 positives: many resamples hold no positive at all
    y = np.zeros(40, dtype=int)
    y[[3, 30]] = 1
    p = np.random.default_rng(9).uniform(size=40)
    # when bootstrapped
    est = estimate_metrics(y, p, ["roc_auc", "average_precision"], FAST)
    # then the intervals come from the resamples that define the metric
    for e in est.values():
        assert np.isfinite([e.value, e.low, e.high]).all() and e.low <= e.value <= e.high


def test_a_statistic_undefined_on_every_resample_keeps_a_nan_interval_and_one_undefined_on_some_gets_one() -> None:
    # given three statistics over 40 rows: a mean; one undefined (NaN) when the resample misses row 0;
    # one undefined on every resample (a slice with one class in all of them)
    def statistic(counts: np.ndarray) -> np.ndarray:
        mean = counts @ np.arange(40.0) / counts.sum(axis=-1)
        return np.stack([mean, np.where(counts[:, 0] > 0, mean, np.nan), np.full(len(counts), np.nan)])

    # when bootstrapped
    low, high = bootstrap_interval(40, lambda keep: statistic, FAST, [np.nan] * 3)
    # then the first two get an interval around the mean (19.5), the third stays NaN: unknown, not made up
    assert (low[:2] < 19.5).all() and (high[:2] > 19.5).all()
    assert np.isnan(low[2]) and np.isnan(high[2])


def _width(estimate: dict[str, Estimate], name: str) -> float:
    return estimate[name].high - estimate[name].low


@pytest.mark.parametrize("name", ["roc_auc", "log_loss", "accuracy"])
def test_a_large_window_is_bootstrapped_on_a_subset_and_its_interval_narrowed_to_the_whole_windows(name: str) -> None:
    # given 40,000 rows, bootstrapped whole and from a 4,000-row subset
    y, p = synthetic(40_000, seed=3)
    whole = estimate_metrics(y, p, [name], Bootstrap(resamples=200, max_rows=40_000))
    subset = estimate_metrics(y, p, [name], Bootstrap(resamples=200, max_rows=4_000))
    # when the subset's interval is compared with the whole's
    ratio = _width(subset, name) / _width(whole, name)
    # then the same value (on every row) and as wide, within the resampling noise; left unnarrowed it would
    # be sqrt(10) = 3.2 times wider, and centred on the subset's value
    assert subset[name].value == whole[name].value
    assert 0.75 < ratio < 1.33, ratio
    assert abs(subset[name].low - whole[name].low) < 0.3 * _width(whole, name)
    assert subset[name].low <= subset[name].value <= subset[name].high


def test_a_paired_difference_on_a_large_window_is_narrowed_alike() -> None:
    # given two models' scores on 40,000 rows, the second noisier
    y, p = synthetic(40_000, seed=4)
    _, noise = synthetic(40_000, seed=5)
    q = np.clip(p + 0.2 * (noise - 0.5), 0, 1)
    whole = estimate_difference(y, p, q, "roc_auc", Bootstrap(resamples=200, max_rows=40_000))
    subset = estimate_difference(y, p, q, "roc_auc", Bootstrap(resamples=200, max_rows=4_000))
    # then the difference's interval is as wide, and both exclude 0 (the first model is better)
    assert 0.75 < (subset.high - subset.low) / (whole.high - whole.low) < 1.33
    assert subset.low > 0 and whole.low > 0


def test_the_lean_roc_auc_is_sklearns_with_ties_and_without() -> None:
    # given scores with many ties (rounded to 2 decimals) and without, and a model ranking backwards
    for decimals, signal in ((2, 1.0), (None, 1.0), (3, -0.5)):
        y, p = synthetic(30_000, seed=9, signal=signal, decimals=decimals)
        # when computed as a large window's is, then it is sklearn's value
        assert lean_roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    # and a window past LEAN_ROWS is computed so, far from 0.5 when the scores rank
    y, p = synthetic(LEAN_ROWS + 1, seed=2)
    value = metric_value("roc_auc", y, p)
    assert value == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12) and value > 0.7
