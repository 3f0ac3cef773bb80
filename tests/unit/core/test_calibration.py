"""Calibration in the large: a binary window's positive rate beside its mean score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.calibration import window_calibration
from perennial.core.estimate import Estimate
from perennial.core.monitoring import window_performance


def _window(rate: float, rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Scores calibrated on a 53% prior (as trained), and labels drawn at ``rate``: a prior shift keeps the
    ranking (positives still score higher) and moves the outcomes."""
    rng = np.random.default_rng(seed)
    label = (rng.uniform(size=rows) < rate).astype(int)
    score = np.clip(0.53 + (label - rate) * 0.3 + rng.normal(0, 0.1, rows), 0, 1)
    return pd.DataFrame({"id": [str(i) for i in range(rows)], "prediction": score, "label": label})


def test_a_prior_shift_the_auc_cannot_see_is_said_beside_the_window_s_figure(tiny_config: Config) -> None:
    # given the champion's holdout AUC and a window whose positives fell from 53% to 16%
    shifted = window_performance(_window(0.16), tiny_config, Estimate(0.90, 0.88, 0.92))
    calm = window_performance(_window(0.53), tiny_config, Estimate(0.90, 0.88, 0.92))
    assert shifted is not None and calm is not None
    # then the ranking holds in both (no drop) and only the shifted one says its scores no longer match
    assert shifted.drop is not None and shifted.drop < 0.03 and calm.drop is not None and calm.drop < 0.03
    assert shifted.calibration is not None and shifted.calibration.off
    assert calm.calibration is not None and not calm.calibration.off
    note = shifted.calibration.note()
    assert note is not None and note.startswith("positives 16.") and "the scores average 5" in note
    assert calm.calibration.note() is None
    assert "a prior shift" in note
    # and where the ranking fell surely too (a concept shock), the mismatch is not called a prior shift
    shocked = shifted.calibration.note(ranking_held=False)
    assert shocked is not None and "a prior shift" not in shocked and "no longer match outcomes" in shocked


def test_a_small_gap_or_one_within_the_rate_s_interval_is_not_worth_a_word() -> None:
    # given 100 rows at 40% positives: the interval is about ±10 points
    labels = np.array([1] * 40 + [0] * 60)
    assert not window_calibration(labels, np.full(100, 0.48)).off  # 8 points off, inside the interval
    # given 100,000 rows: a 3-point gap is sure, but under the least gap worth saying (5 points)
    many = np.array([1] * 40_000 + [0] * 60_000)
    sure = window_calibration(many, np.full(100_000, 0.43))
    assert sure is not None and not sure.low <= 0.43 <= sure.high and not sure.off
    big = window_calibration(many, np.full(100_000, 0.46))
    assert big is not None and big.off
    assert window_calibration(np.array([]), np.array([])) is None
