"""Sampling noise: a distance Evidently calls drift counts only above what sampling alone shows at a window's size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.core.drift import build_reference, detect_drift
from perennial.core.drift.partitioned import detect_drift_partitioned
from perennial.core.partitions import over_frames, split_frame

STORES = [f"s{i:03d}" for i in range(380)]


def orders(rows: int, seed: int) -> pd.DataFrame:
    """Many store codes (as a retailer's orders), a skewed price and a normal column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "store": rng.choice(STORES, rows),
            "price": rng.lognormal(3, 1, rows),
            "x": rng.normal(0, 1, rows),
        }
    )


TRAINING = orders(6000, seed=0)
REFERENCE = build_reference(TRAINING, ["price", "x"], ["store"])


def test_a_sample_of_the_training_rows_is_not_drift_though_evidently_says_so() -> None:
    # given 500 rows drawn from the training table itself: 380 codes cannot all show up in their shares
    window = TRAINING.sample(500, random_state=1)
    # when
    report = detect_drift(REFERENCE, window)
    store = next(c for c in report.columns if c.column == "store")
    # then Evidently's Jensen-Shannon test says drift, and the noise of 500 rows over 380 codes explains it
    assert store.test == "jensenshannon" and store.statistic >= store.threshold and store.evidently_drifted
    assert store.noise is not None and store.statistic <= store.noise
    assert not store.drifted and store.within_noise
    assert report.drifted_columns == () and report.drift_share == 0.0
    assert "within sampling noise, not counted: store (" in report.summary()


def test_a_real_shift_of_the_same_size_window_still_counts() -> None:
    # given 500 rows where half the stores closed and prices rose by a third
    window = orders(500, seed=2)
    window["store"] = np.random.default_rng(3).choice(STORES[:190], 500)
    window["price"] *= 1.3
    # when
    report = detect_drift(REFERENCE, window)
    # then both columns are beyond their noise, and the untouched one is not drifted at all
    assert report.drifted_columns == ("price", "store")
    by_name = {c.column: c for c in report.columns}
    assert all(by_name[c].statistic > (by_name[c].noise or 0) for c in ("price", "store"))
    assert by_name["x"].noise is None and not by_name["x"].drifted


def test_noise_is_only_weighed_where_evidently_says_drift_and_is_reproducible() -> None:
    # given a large window of the same distribution: the numeric distances stay under their threshold
    report = detect_drift(REFERENCE, orders(20_000, seed=4))
    below = [c for c in report.columns if c.statistic < c.threshold]
    assert [c.column for c in below] == ["price", "x"]
    assert all(c.noise is None and not c.drifted for c in below)
    # and a small one, judged twice: the same noise each time (seeded by the column's name)
    window = TRAINING.sample(500, random_state=5)
    first, second = detect_drift(REFERENCE, window), detect_drift(REFERENCE, window)
    assert [c.noise for c in first.columns] == [c.noise for c in second.columns]
    assert any(c.noise is not None for c in first.columns)


def test_the_partitioned_engine_weighs_the_same_noise() -> None:
    window = TRAINING.sample(500, random_state=1)
    in_memory = detect_drift(REFERENCE, window)
    partitioned = detect_drift_partitioned(REFERENCE, over_frames(split_frame(window, 3)))
    assert [(c.column, c.drifted, c.noise) for c in partitioned.columns] == [
        (c.column, c.drifted, c.noise) for c in in_memory.columns
    ]
    assert partitioned.columns[-1].within_noise
