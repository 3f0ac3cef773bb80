from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from perennial.core.drift import ColumnDrift, DriftReport, build_reference, detect_drift


def frames(rows: int = 2000, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temp": rng.normal(50 + shift, 10, rows),
            "distance": rng.uniform(100, 2500, rows),
            "carrier": rng.choice(["AA", "DL", "UA"], rows),
        }
    )


def test_no_drift_between_two_draws_of_the_same_data() -> None:
    # given
    reference = build_reference(frames(seed=0), ["temp", "distance"], ["carrier"])
    # when
    report = detect_drift(reference, frames(seed=1))
    # then
    assert [c.test for c in report.columns] == ["wasserstein", "wasserstein", "jensenshannon"]
    assert not report.dataset_drift and report.drift_share == 0.0
    assert (report.rows_reference, report.rows_current) == (2000, 2000)


def test_a_shift_drifts_its_column_only() -> None:
    reference = build_reference(frames(seed=0), ["temp", "distance"], ["carrier"])
    report = detect_drift(reference, frames(shift=5, seed=1))
    assert report.drifted_columns == ("temp",)
    assert report.drift_share == pytest.approx(1 / 3) and not report.dataset_drift
    assert detect_drift(reference, frames(shift=5, seed=1), share_threshold=1 / 3).dataset_drift


def test_columns_come_back_in_declared_order_whatever_their_null_counts() -> None:
    # given windows where each numeric column has its own null count (so its own quantile plan)
    data = frames(seed=1)
    data.loc[:9, "distance"] = np.nan
    reference = build_reference(frames(seed=0), ["temp", "distance"], ["carrier"])
    # when
    report = detect_drift(reference, data)
    # then
    assert [c.column for c in report.columns] == ["temp", "distance", "carrier"]


def test_a_numeric_column_with_few_values_is_tested_as_categories_until_the_window_adds_values() -> None:
    reference = build_reference(pd.DataFrame({"stops": [0, 1, 2] * 500}), ["stops"], [])
    same = detect_drift(reference, pd.DataFrame({"stops": [0, 1, 2, 2]}))
    more = detect_drift(reference, pd.DataFrame({"stops": [0, 1, 2, 3, 4, 5]}))
    assert same.columns[0].test == "jensenshannon"
    assert more.columns[0].test == "wasserstein"


def test_report_serialises_to_json_and_rows() -> None:
    report = detect_drift(build_reference(frames(), ["temp"], ["carrier"]), frames(shift=5, seed=1))
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["drifted_columns"] == ["temp"] and payload["columns"][0]["test"] == "wasserstein"
    assert report.to_rows()[1] == {
        "column": "carrier",
        "kind": "categorical",
        "test": "jensenshannon",
        "statistic": report.columns[1].statistic,
        "threshold": 0.1,
        "drifted": False,
        "noise": None,
    }
    assert "1 of 2 columns drifted" in report.summary()


def test_a_non_finite_statistic_is_written_as_null() -> None:
    report = DriftReport((ColumnDrift("a", "numeric", "ks", float("nan"), 0.05, False),), 0.0, 0.5, False, 1, 1)
    assert report.to_rows()[0]["statistic"] is None


@pytest.mark.parametrize(
    ("window", "threshold", "message"),
    [
        (pd.DataFrame({"temp": [1.0]}), 0.5, "no column"),
        (pd.DataFrame({"temp": [np.nan], "carrier": ["AA"]}), 0.5, "no finite values"),
        (pd.DataFrame({"temp": [1.0], "carrier": [None]}), 0.5, "no non-null values"),
        (pd.DataFrame({"temp": ["hot"], "carrier": ["AA"]}), 0.5, "not a number type"),
        (pd.DataFrame({"temp": [1.0], "carrier": ["AA"]}), 0.0, "share_threshold"),
    ],
)
def test_unusable_windows_are_errors(window: pd.DataFrame, threshold: float, message: str) -> None:
    reference = build_reference(frames(), ["temp"], ["carrier"])
    with pytest.raises(ValueError, match=message):
        detect_drift(reference, window, threshold)


def test_the_drift_core_imports_neither_evidently_nor_prefect_nor_mlflow() -> None:
    script = (
        "import sys\n"
        "import perennial.core.drift, perennial.core.drift.evidently_report\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'evidently', 'prefect', 'mlflow'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
