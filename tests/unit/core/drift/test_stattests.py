from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from perennial.core.drift import build_reference
from perennial.core.drift.stattests import (
    chisquare_pvalue,
    choose_test,
    is_drifted,
    jensenshannon_distance,
    quantile_plan,
    wasserstein_norm,
    z_pvalue,
)


def numeric_reference(values: np.ndarray):
    return build_reference(pd.DataFrame({"v": values}), ["v"], []).numeric["v"]


@pytest.mark.parametrize(
    ("kind", "reference_rows", "n_values", "expected"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 1000, 1, "z"),
        ("categorical", 1000, 40, "chisquare"),
        ("categorical", 10, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 1001, 300, "jensenshannon"),
    ],
)
def test_choose_test_follows_evidentlys_default_selection(kind, reference_rows, n_values, expected) -> None:
    assert choose_test(kind, reference_rows, n_values) == expected


def test_is_drifted_uses_each_tests_comparison() -> None:
    assert is_drifted("ks", 0.05, 0.05)  # K-S: p <= threshold
    assert not is_drifted("chisquare", 0.05, 0.05) and not is_drifted("z", 0.05, 0.05)  # p < threshold
    assert is_drifted("wasserstein", 0.1, 0.1) and is_drifted("jensenshannon", 0.1, 0.1)  # distance >= threshold


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 4), (4, 1), (6, 4), (1001, 1), (3000, 3000), (5000, 1234)])
def test_quantile_plan_covers_zero_to_one_with_valid_indices(n: int, m: int) -> None:
    plan = quantile_plan(n, m)
    assert plan.width.sum() == pytest.approx(1.0, abs=1e-12)
    assert (plan.width > 0).all()
    assert plan.reference_index.min() >= 0 and plan.reference_index.max() == n - 1
    assert plan.current_index.min() >= 0 and plan.current_index.max() == m - 1
    assert (np.diff(plan.reference_index) >= 0).all() and (np.diff(plan.current_index) >= 0).all()


@pytest.mark.parametrize(("n", "m"), [(1, 1), (7, 3), (2000, 1), (2000, 2), (3000, 3000), (5000, 1234), (800, 20000)])
@pytest.mark.parametrize("shape", ["continuous", "ties", "constant", "offset"])
def test_wasserstein_norm_equals_scipy_over_the_std(n: int, m: int, shape: str) -> None:
    # given samples with and without ties (ties make the reference stored as values + counts)
    rng = np.random.default_rng(n * 7 + m)
    if shape == "continuous":
        a, b = rng.normal(size=n), rng.normal(0.3, 2, size=m)
    elif shape == "ties":
        a, b = rng.integers(0, 10, n).astype(float), rng.integers(0, 12, m).astype(float)
    elif shape == "constant":
        a, b = np.full(n, 3.0), rng.normal(3, 1, m)
    else:  # far from zero: where float32 storage would already be off by 1e-5 of a std
        a, b = rng.normal(1e6, 1, n), rng.normal(1e6 + 0.1, 1, m)
    reference = numeric_reference(a)
    # when
    ours = wasserstein_norm(reference, np.sort(b), quantile_plan(n, m))
    # then
    expected = stats.wasserstein_distance(a, b) / max(float(np.std(a)), 0.001)
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_chisquare_matches_scipy_and_a_new_category_gives_p_zero() -> None:
    reference, current = np.array([50, 30, 20]), np.array([20, 15, 5])
    expected = stats.chisquare(current, reference * current.sum() / reference.sum()).pvalue
    assert chisquare_pvalue(reference, current) == pytest.approx(expected, abs=1e-15)
    assert chisquare_pvalue(np.array([50, 30, 0]), np.array([20, 15, 5])) == 0.0


def test_z_pvalue_is_one_for_the_same_single_value_and_symmetric_otherwise() -> None:
    assert z_pvalue(np.array([10]), np.array([4]), first=0) == 1.0
    reference, current = np.array([70, 30]), np.array([40, 60])
    p = z_pvalue(reference, current, first=0)
    assert p == pytest.approx(z_pvalue(reference[::-1], current[::-1], first=1), abs=1e-15)
    pooled = (30 + 60) / 200
    z = (0.3 - 0.6) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert p == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))), abs=1e-15)


def test_jensenshannon_matches_scipy_on_shares() -> None:
    reference, current = np.array([5, 3, 0]), np.array([1, 1, 2])
    expected = distance.jensenshannon(reference / 8, current / 4)
    assert jensenshannon_distance(reference, current) == pytest.approx(expected, abs=1e-15)
    assert jensenshannon_distance(np.array([4]), np.array([9])) == 0.0
