"""Monitoring's validation tasks: a window's data against the champion's contract, its arrived labels
as a feed, and whether those labels carry the signal the unchanged inputs predict. Recorded,
not raised: the monitoring flow decides first, then refuses the window."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.drift import DriftReport
from perennial.core.label_free import ClassReference, LabelFreeReference, LossReference
from perennial.core.label_signal import WindowInputs, check_label_signal, signal_rows, with_features
from perennial.core.label_signal_multiclass import check_multiclass_label_signal
from perennial.core.label_signal_regression import check_regression_label_signal
from perennial.core.monitoring import drift_unjudged, label_shortfall, split_drift
from perennial.core.validation import SuiteSpec, ValidationReport, validate_frame
from perennial.core.validation_labels import check_arrived_labels
from perennial.core.validation_report import validation_tags
from perennial.core.validation_units import Earlier
from perennial.core.windows import Window
from perennial.io import tracking
from tasks.common import publish_markdown


@task(name="check-window-data", cache_policy=NO_CACHE)
def check_window_task(
    frame: pd.DataFrame,
    suite: SuiteSpec,
    config: Config,
    source: str,
    window: Window,
    run_id: str,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """The window's data against the champion's contract; recorded, not raised: the flow decides first."""
    report = validate_frame(frame, suite, source=source, earlier=earlier, **window_rules(config, window))
    return record_window_validation(report, config, source, window, run_id)


@task(name="check-window-labels", cache_policy=NO_CACHE)
def check_window_labels_task(
    report: ValidationReport,
    joined: pd.DataFrame,
    suite: SuiteSpec,
    config: Config,
    window: Window,
    run_id: str,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """The window's report with the label feed's rules on the labels that arrived for its rows,
    recorded again when they were judged."""
    checked = check_arrived_labels(report, joined["label"], suite, config.validation.warnings, earlier)
    if checked is report:
        return report
    return record_window_validation(checked, config, report.source, window, run_id)


@task(name="check-label-signal", cache_policy=NO_CACHE)
def check_label_signal_task(
    report: ValidationReport,
    joined: pd.DataFrame,
    predictions: pd.DataFrame,
    drift: DriftReport | None,
    config: Config,
    window: Window,
    run_id: str,
    label_free: LabelFreeReference | None = None,
    scored: int | None = None,
) -> ValidationReport:
    """The window's report with its label feed's signal judged (core/label_signal.py and its regression and
    multiclass modules): labels that carry none where the unchanged inputs predict some are
    refused like bad data, never learnt from. ``label_free``: the champion's label-free reference.
    ``predictions``: the window's scored rows with ``label_signal_columns``, at least those of
    ``signal_rows(joined)``; ``scored``: how many rows the window scored (default: ``predictions``')."""
    if not report.passed or label_shortfall(joined, config) is not None:
        return report
    scored = len(predictions) if scored is None else scored
    judged = drift is not None and not drift_unjudged(scored, config.monitoring.min_drift_rows)
    share, _, prediction_drifted = split_drift(drift) if judged and drift is not None else (None, (), None)
    inputs = WindowInputs(share, config.monitoring.retraining.drift_share, prediction_drifted)
    features = [*config.data.features.numeric, *config.data.features.categorical]
    blocking = "label_signal" not in config.validation.warnings
    target, bootstrap = config.data.target.column, config.evaluation.bootstrap
    loss = label_free if isinstance(label_free, LossReference) else None
    rows = with_features(signal_rows(joined), predictions, label_signal_columns(config, label_free))
    if config.task == "binary":
        rule = check_label_signal(rows, features, inputs, target, bootstrap, blocking)
    elif config.task == "multiclass":
        classes = label_free if isinstance(label_free, ClassReference) else None
        rule = check_multiclass_label_signal(rows, features, inputs, classes, target, blocking)
    else:
        rule = check_regression_label_signal(rows, features, inputs, loss, target, bootstrap, blocking)
    if rule is None:
        return report
    checked = replace(report, results=(*report.results, rule))
    return record_window_validation(checked, config, report.source, window, run_id)


def label_signal_columns(config: Config, label_free: LabelFreeReference | None) -> list[str]:
    """The scored rows' columns the label-signal tests read: the features, and the columns the loss
    estimator was fitted on (datetimes too)."""
    features = [*config.data.features.numeric, *config.data.features.categorical]
    loss = label_free if isinstance(label_free, LossReference) else None
    return list(dict.fromkeys([*features, *(loss.estimator.columns if loss else ())]))


def window_rules(config: Config, window: Window) -> dict[str, Any]:
    """The rules beside the contract a monitoring window is checked by, on either engine."""
    freshness = config.validation.freshness
    return {
        "as_of": window.end_time,
        "freshness_hours": freshness.max_age_hours if freshness else None,
        "volume": config.validation.volume,
        "require_target": False,  # labels arrive later
        "warnings": config.validation.warnings,
    }


def record_window_validation(
    report: ValidationReport, config: Config, source: str, window: Window, run_id: str
) -> ValidationReport:
    """The window's validation report to MLflow (file and tags) and to a Prefect artifact."""
    tracking.log_json(run_id, report.to_dict(), "validation/report.json")
    tracking.set_tags(run_id, validation_tags(report))
    publish_markdown(
        f"{config.name}-window-validation-{window.label}",
        report.to_markdown(),
        f"Data validation of {source}, {window.label}",
    )
    return report
