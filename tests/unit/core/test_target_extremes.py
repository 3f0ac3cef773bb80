from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.core.target_extremes import extreme_targets, mean_predictor_error


def _profits(rows: int = 2_600) -> pd.Series:
    rng = np.random.default_rng(3)
    return pd.Series(rng.integers(400, 5_000, rows) * 2.0 + rng.normal(0, 300, rows), name="profit")


def test_a_few_targets_far_outside_the_rest_are_named_by_data_row_and_left_out_of_the_scale() -> None:
    # given 2,600 profits in the thousands, 3 of them typed in the millions (rows 11, 501 and 2,001)
    profits = _profits()
    clean = mean_predictor_error(profits)
    profits.iloc[[10, 500, 2_000]] = [5e6, -3e6, 1.2e7]
    # when its extremes are found
    extremes = extreme_targets(profits)
    # then they are named by 1-based data row with their values, and what to do
    assert extremes is not None and extremes.rows == (11, 501, 2_001)
    assert "3 rows hold a target far outside the rest" in extremes.describe()
    assert (
        "data rows 11 (5e+06), 501 (-3e+06), 2,001 (1.2e+07); check them or drop them (a typo or a unit slip), or keep them"
        in extremes.describe()
    )
    # and the scale measured without them is the other rows' (it is ~10x with them)
    assert mean_predictor_error(profits) > 5 * clean
    assert mean_predictor_error(profits, extremes) == pytest.approx(clean, rel=0.01)


def test_a_long_tail_a_target_of_one_value_and_a_clean_target_have_no_extremes() -> None:
    rng = np.random.default_rng(0)
    # given a heavy but continuous tail (2% of rows beyond 50 IQRs: incomes, not typos)
    tail = pd.Series(rng.lognormal(0, 2.5, 5_000))
    # and a target mostly zero (its IQR is 0: nothing to be far from), and a plain quantity
    zeros = pd.Series(np.r_[np.zeros(990), np.full(10, 7.0)])
    # when / then none is flagged
    assert extreme_targets(tail) is None
    assert extreme_targets(zeros) is None
    assert extreme_targets(_profits()) is None
