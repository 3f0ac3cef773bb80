"""Data drift with Evidently's default tests and thresholds, at the cost of one window.

``build_reference`` summarises the champion's reference frame once (store ``to_bytes()`` beside the model);
``detect_drift`` reads only the window. Verdicts and statistics match Evidently 0.7's ``DataDriftPreset``
(the parity test runs both), which the HTML report in ``evidently_report`` renders on a sample.
"""

from perennial.core.drift.engine import ColumnDrift, DriftReport, detect_drift
from perennial.core.drift.reference import ReferenceStats, build_reference

__all__ = ["ColumnDrift", "DriftReport", "ReferenceStats", "build_reference", "detect_drift"]
