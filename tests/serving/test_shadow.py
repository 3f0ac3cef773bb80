"""Shadow comparison, pure: agreement, score distributions and latency of two models."""

from __future__ import annotations

import numpy as np

from perennial.serving.shadow import ShadowComparison


def test_comparison_reports_agreement_distributions_and_latency() -> None:
    # given paired scores where 1 of 4 rows changes label at the 0.5 threshold
    shadow = ShadowComparison("1", "2", threshold=0.5)
    shadow.record(np.array([0.1, 0.6, 0.7, 0.2]), np.array([0.2, 0.4, 0.8, 0.2]), champion_ms=3.0, challenger_ms=5.0)
    shadow.record(np.array([0.9]), np.array([0.9]), champion_ms=4.0, challenger_ms=6.0)
    shadow.record_error()
    # when reported
    report = shadow.report()
    # then agreement, differences and distributions are those of the pairs
    assert report.rows == 5 and report.errors == 1
    assert report.agreement == 4 / 5
    assert np.isclose(report.mean_abs_diff, (0.1 + 0.2 + 0.1 + 0 + 0) / 5)
    assert np.isclose(report.max_abs_diff, 0.2)
    assert report.champion.count == 5 and np.isclose(report.champion.mean, 0.5)
    assert np.isclose(report.challenger.positive_rate, 2 / 5)
    assert report.champion_latency.calls == 2 and report.challenger_latency.p50_ms == 5.5
    assert report.to_dict()["challenger_version"] == "2"


def test_an_empty_comparison_reports_nothing_yet() -> None:
    report = ShadowComparison("1", "2", threshold=0.5).report()
    assert report.rows == 0 and report.agreement is None and report.champion.mean is None


def test_memory_is_bounded_but_totals_are_exact() -> None:
    shadow = ShadowComparison("1", "2", threshold=0.5, window=10, latency_window=3)
    for _ in range(20):
        shadow.record(np.full(5, 0.7), np.full(5, 0.7), 1.0, 1.0)
    report = shadow.report()
    assert report.rows == 100 and report.champion.count == 10 and report.champion_latency.calls == 3
