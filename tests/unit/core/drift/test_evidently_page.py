"""Evidently's page on a wide window: the most drifted columns and the score, not hundreds of pages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.core.drift import build_reference, detect_drift
from perennial.core.drift.engine import ColumnDrift
from perennial.core.drift.evidently_report import page_columns


def column(name: str, test: str, statistic: float, threshold: float, drifted: bool) -> ColumnDrift:
    return ColumnDrift(name, "numeric", test, statistic, threshold, drifted)


def test_a_narrow_window_shows_every_column() -> None:
    columns = [column("a", "ks", 0.5, 0.05, False), column("prediction", "ks", 0.01, 0.05, True)]
    assert page_columns(columns, 30, keep="prediction") == ("prediction", "a")


def test_a_wide_window_shows_the_most_drifted_first_and_always_the_score() -> None:
    # given p-value tests (lower: more drift) and distances (higher: more drift), the score not drifted
    columns = [
        column("calm_p", "ks", 0.60, 0.05, False),
        column("strong_p", "ks", 1e-9, 0.05, True),
        column("weak_p", "ks", 0.04, 0.05, True),
        column("strong_d", "wasserstein", 0.9, 0.1, True),
        column("calm_d", "wasserstein", 0.02, 0.1, False),
        column("prediction", "ks", 0.7, 0.05, False),
    ]
    # when two columns fit on the page / then the two strongest drifts, and the score besides
    assert page_columns(columns, 2, keep="prediction") == ("prediction", "strong_p", "strong_d")
    # and with three, the weaker drifted one comes before any calm column
    assert page_columns(columns, 3, keep="prediction")[-1] == "weak_p"


def test_on_a_real_report_the_shifted_columns_are_the_ones_shown() -> None:
    # given 60 noise columns of which c7 and c42 shifted by two standard deviations
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(60)]
    reference = pd.DataFrame(rng.normal(size=(1500, 60)), columns=names)
    window = pd.DataFrame(rng.normal(size=(500, 60)), columns=names).assign(
        c7=lambda f: f["c7"] + 2, c42=lambda f: f["c42"] - 2
    )
    report = detect_drift(build_reference(reference, names, []), window)
    # when five columns fit / then both shifted columns are among them
    shown = page_columns(report.columns, 5, keep="prediction")
    assert len(shown) == 5 and {"c7", "c42"} <= set(shown)
