"""The Evidently drift report users read, rendered on a bounded sample.

The verdicts that drive monitoring come from ``detect_drift`` on the whole window; this page is for reading.
Evidently's cost grows fast with rows (about 44 s and 1.1 GB for 1M x 10), so both frames are sampled down
to ``max_rows``. A sample can change Evidently's *choice* of test (a reference of <= 1000 rows gets p-value
tests), so pass ``tests`` — the engine's choice per column, ``{c.column: c.test for c in report.columns}`` —
to keep the page on the same tests as the verdicts. Evidently is imported when a report is rendered, not
when this module is imported.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from perennial.core.drift.engine import ColumnDrift

# the engine's tests whose statistic is a p-value (lower: more drift); the others give a distance
_P_VALUE_TESTS = {"ks", "chisquare", "z"}


def page_columns(columns: Sequence[ColumnDrift], limit: int, keep: str) -> tuple[str, ...]:
    """The columns Evidently's page shows: every one while there are at most ``limit`` (besides ``keep``,
    the score, always shown); else the ``limit`` with the strongest drift, Evidently's verdict first,
    then how far the statistic is past its threshold. A page per column on hundreds of columns took
    most of a wide window's monitoring and is not read column by column; the verdicts cover them all."""
    others = [c for c in columns if c.column != keep]
    kept = [c.column for c in columns if c.column == keep]
    if len(others) <= limit:
        return (*kept, *(c.column for c in others))

    def strength(c: ColumnDrift) -> tuple[bool, float]:
        if c.test in _P_VALUE_TESTS:
            return c.evidently_drifted, c.threshold / max(c.statistic, 1e-300)
        return c.evidently_drifted, c.statistic / c.threshold if c.threshold else c.statistic

    return (*kept, *(c.column for c in sorted(others, key=strength, reverse=True)[:limit]))


# Evidently only accepts these by name on these kinds (chi-square and Z are "categorical" tests to it, even
# though its default selection uses them on numeric columns with few values)
_PINNABLE = {"numeric": {"wasserstein", "ks", "jensenshannon"}, "categorical": {"jensenshannon", "chisquare", "z"}}


def render_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    max_rows: int,
    tests: Mapping[str, str] | None = None,
    drift_share: float = 0.5,
    seed: int = 0,
) -> tuple[str, dict[str, Any]]:
    """Evidently's DataDriftPreset on at most ``max_rows`` rows of each frame: (standalone HTML, summary)."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    columns = [*numeric, *categorical]
    ref_sample = _sample(reference[columns], max_rows, seed)
    cur_sample = _sample(current[columns], max_rows, seed)
    pinned = {c: t for c, t in (tests or {}).items() if t in _PINNABLE["numeric" if c in numeric else "categorical"]}
    snapshot = run_preset(ref_sample, cur_sample, numeric, categorical, drift_share, pinned)
    summary = summarise(snapshot)
    summary.update(
        rows_reference=len(reference),
        rows_current=len(current),
        rows_reference_sampled=len(ref_sample),
        rows_current_sampled=len(cur_sample),
        sampled=len(ref_sample) < len(reference) or len(cur_sample) < len(current),
    )
    return snapshot.get_html_str(as_iframe=False), summary


def run_preset(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    drift_share: float = 0.5,
    tests: Mapping[str, str] | None = None,
) -> Any:
    """Run Evidently 0.7's DataDriftPreset with the columns' kinds declared (no type guessing); a Snapshot."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(numeric), categorical_columns=list(categorical))
    preset = DataDriftPreset(drift_share=drift_share, per_column_method=dict(tests) if tests else None)
    report = Report([preset], include_tests=True)
    # Evidently's statistics divide by zero on a constant column (an hour of a one-day window) and
    # numpy says so on stderr in the middle of the CLI's answer; the verdicts are ours, not its
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )


def summarise(snapshot: Any) -> dict[str, Any]:
    """Per-column test, statistic and verdict, and the dataset verdict, read from a Snapshot's dict."""
    from evidently.legacy.calculations import stattests

    known = (
        stattests.ks_stat_test,
        stattests.chi_stat_test,
        stattests.z_stat_test,
        stattests.wasserstein_stat_test,
        stattests.jensenshannon_stat_test,
    )
    names = {t.display_name: t.name for t in known}
    data = snapshot.dict()
    failed = {t["metric_config"]["metric_id"] for t in data["tests"] if t["status"] == "FAIL"}
    columns: dict[str, dict[str, Any]] = {}
    share, dataset_drift = float("nan"), False
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            columns[config["column"]] = {
                "test": names.get(config["method"], config["method"]),
                "statistic": float(metric["value"]),
                "threshold": float(config["threshold"]),
                "drifted": metric["id"] in failed,
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            share = float(metric["value"]["share"])
            dataset_drift = metric["id"] in failed
    return {"drift_share": share, "dataset_drift": dataset_drift, "columns": columns}


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= max_rows else frame.sample(n=max_rows, random_state=seed)
