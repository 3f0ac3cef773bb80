"""Monitoring tasks: the champion's reference, a window's predictions and labels, drift (the verdict: monitoring_decision.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.data import model_inputs
from perennial.core.drift import DriftReport, build_reference, detect_drift
from perennial.core.drift.evidently_report import page_columns, render_report
from perennial.core.drift_baseline import DriftBaseline, reference_span, stored_baseline, training_baseline
from perennial.core.estimate import Estimate
from perennial.core.fingerprint import inputs_fingerprint
from perennial.core.monitoring import (
    MONITORED_SOURCES,
    PREDICTION,
    ArrivedLabels,
    ChampionContext,
    drift_frame,
    latest_predictions,
    split_drift,
)
from perennial.core.names import Tag
from perennial.core.predict import predict, scalar_prediction
from perennial.core.service_health import ServiceHealth, service_health
from perennial.core.target import LABELS_TAG, Labels
from perennial.core.validation import SuiteSpec
from perennial.core.windows import Window, latest_batch, window_holding
from perennial.errors import DataSourceError, RegistryError
from perennial.io import sources, tracking
from perennial.io.prediction_store import open_store
from perennial.io.reference_store import load_label_free, load_reference, log_reference
from perennial.io.registry import Registry
from tasks.common import IO_RETRIES, publish_table
from tasks.validation import SUITE_ARTIFACT


@task(name="log-drift-reference", cache_policy=NO_CACHE, **IO_RETRIES)
def log_reference_task(model: Any, train: pd.DataFrame, config: Config, run_id: str) -> None:
    """The chosen model's training data (features and its own scores) as drift statistics and a sample."""
    features = config.data.features
    frame = train.loc[:, [*features.numeric, *features.categorical]].assign(
        **{PREDICTION: scalar_prediction(predict(model, model_inputs(model, train, config), config.task), config.task)}
    )
    stats = build_reference(frame, [*features.numeric, PREDICTION], features.categorical)
    sample_rows = min(len(frame), config.monitoring.report_sample_rows)
    log_reference(run_id, stats, frame.sample(n=sample_rows, random_state=config.training.seed))


@task(name="load-champion-context", cache_policy=NO_CACHE, **IO_RETRIES)
def champion_context_task(config: Config, registry: Registry) -> ChampionContext:
    """The champion's version, its training run, its gated holdout figure, its drift reference and its
    label-free estimator (or why it has none)."""
    champion = registry.champion()
    if champion is None:
        raise RegistryError(f"model '{registry.name}' has no champion: train one before monitoring")
    training_run = champion.require_training_run()
    stats, sample = load_reference(training_run, f"model '{registry.name}' v{champion.version}")
    suite = tracking.load_json(training_run, SUITE_ARTIFACT)
    if suite is None:
        raise RegistryError(f"model '{registry.name}' v{champion.version} has no data contract ({SUITE_ARTIFACT})")
    metric = config.evaluation.primary_metric
    run = tracking.client().get_run(training_run).data
    holdout = _holdout_figure(run.metrics, metric)
    labels = Labels.from_json(registry.info(champion.version).tags.get(LABELS_TAG), config.data.target.column)
    label_free, label_free_note = load_label_free(training_run)
    return ChampionContext(
        champion.version,
        training_run,
        stats,
        sample,
        holdout,
        SuiteSpec.from_dict(suite),
        labels,
        label_free,
        label_free_note,
        _trained_from(run.params.get("split")),
    )


def _trained_from(split: str | None) -> dt.date | None:
    """The first day a training run learnt from, when its split was cut there (its logged split)."""
    try:
        start = json.loads(split).get("train_start") if split else None
        return dt.date.fromisoformat(start) if start else None
    except (ValueError, AttributeError):  # an older run's or a hash split's: no cut
        return None


def _holdout_figure(metrics: dict[str, float], metric: str) -> Estimate | None:
    """The candidate's gated figure and its bootstrap interval, as its training run logged them (an
    older run without the interval: its ends are NaN, and the figure is taken as exact)."""
    value = metrics.get(f"candidate.{metric}")
    if value is None:
        return None
    nan = float("nan")
    return Estimate(value, metrics.get(f"candidate.{metric}_low", nan), metrics.get(f"candidate.{metric}_high", nan))


@task(name="read-window-predictions", cache_policy=NO_CACHE, **IO_RETRIES)
def window_predictions_task(config: Config, root: Path, window: Window) -> pd.DataFrame:
    """What was scored in the window (batch and service; a batch window: that batch), one row per id."""
    predictions = stored_predictions(config, root, window.start, window.end, window.batch)
    if predictions.empty:
        raise no_predictions(config, window)
    return predictions


def stored_predictions(
    config: Config, root: Path, start: dt.date, end: dt.date, batch: dt.datetime | None = None
) -> pd.DataFrame:
    """The monitored rows scored with event dates in [start, end), one row per id (its last scoring);
    with ``batch``, only the batch scoring stamped at that time."""
    store = open_store(config, root)
    if batch is not None:
        rows = store.read("batch", start, end)
        return latest_predictions(rows[rows["scored_at"] == pd.Timestamp(batch)].reset_index(drop=True))
    frames = [store.read(source, start, end) for source in MONITORED_SOURCES]
    return latest_predictions(pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True))


@task(name="choose-drift-reference", cache_policy=NO_CACHE, **IO_RETRIES)
def drift_baseline_task(config: Config, root: Path, window: Window, context: ChampionContext) -> DriftBaseline:
    """What the window's drift is measured against (``monitoring.reference``): the champion's training
    data, or the rows stored for the windows before it or for the same window a year earlier."""
    spec = config.monitoring.reference
    if spec.kind == "training":
        return training_baseline(context)
    span = reference_span(spec, config.monitoring.window, window)
    rows = stored_predictions(config, root, span.start, span.end)
    return stored_baseline(rows, span, spec, context, config.monitoring.report_sample_rows, config.training.seed)


def no_predictions(config: Config, window: Window) -> DataSourceError:
    return DataSourceError(
        f"prediction store has no {' or '.join(MONITORED_SOURCES)} rows for {config.name} {window.label} "
        f"({window.start}..{window.end}): score the window first ({_score_hint(config, window)})"
    )


def _score_hint(config: Config, window: Window) -> str:
    if config.monitoring.window == "batch":
        return f"perennial score {config.flag}, then perennial monitor {config.flag}"
    if config.data.time_column is None:  # every row is scored, stamped with the scoring time
        return f"perennial score {config.flag}, then monitor the window that holds it"
    return f"perennial score {config.flag} --start {window.start} --end {window.end}"


@task(name="latest-scoring", cache_policy=NO_CACHE, **IO_RETRIES)
def latest_scoring_window_task(config: Config, root: Path, data: Path | None = None) -> Window:
    """Without a time column a window is the scoring batches stamped in it: the one holding the latest
    (``monitoring.window: batch``: the latest batch itself, or with ``data`` the latest scored from
    that file; the window names the file its batch was scored from)."""
    store = open_store(config, root)
    if config.monitoring.window == "batch":
        rows = store.read("batch")
        scored_from = tracking.runs_tagged(config.tracking.experiment, Tag.SCORED_DATA)
        inputs = tracking.runs_tagged(config.tracking.experiment, Tag.SCORED_INPUTS)
        window = latest_batch(rows, scored_from, None if data is None else str(data), inputs)
        if window is None and data is not None and not rows.empty:
            raise DataSourceError(
                f"{data}: no batch of {config.name} was scored from this file: "
                f"perennial score {config.flag} --data {data}, then monitor it"
            )
        if window is None:
            raise no_scoring(config, ("batch",))
        if data is None and window.scored_from is not None and not Path(window.scored_from).exists():
            raise DataSourceError(
                f"{window.label} was scored from {window.scored_from}, which is no longer there: "
                "its rows and labels cannot be read (monitor another batch after scoring it)"
            )
        return window
    stamps = [store.read(source)["event_time"] for source in MONITORED_SOURCES]
    latest = max((s.max() for s in stamps if not s.empty), default=None)
    if latest is None or pd.isna(latest):
        raise no_scoring(config, MONITORED_SOURCES)
    return window_holding(config.monitoring.window, pd.Timestamp(latest).date())


def same_rows_as_scored(frame: pd.DataFrame, config: Config, window: Window) -> None:
    """A batch's file must still hold the rows scored from it: re-exported with other rows, its labels would
    judge predictions of rows they do not belong to (rows keyed by id numbers that restart at 1 each export)."""
    if window.scored_inputs is None or window.scored_from is None:
        return
    if inputs_fingerprint(frame, config.data.features.columns, config.data.id_column) != window.scored_inputs:
        raise DataSourceError(
            f"{window.scored_from}: its rows are not the ones {window.label} scored from it (the file changed since; "
            f"labels added alone would leave them as they were): score it again (perennial score {config.flag} "
            f"--data {window.scored_from}), then monitor it"
        )


def no_scoring(config: Config, sources: tuple[str, ...]) -> DataSourceError:
    return DataSourceError(
        f"prediction store has no {' or '.join(sources)} rows for {config.name}: "
        f"score the data first (perennial score {config.flag})"
    )


@task(name="read-labels", cache_policy=NO_CACHE, **IO_RETRIES)
def labels_task(config: Config, root: Path) -> ArrivedLabels:
    """The delayed labels that have arrived: read once, joined to the window's and a release's predictions."""
    return read_labels(config, root)


def read_labels(config: Config, root: Path) -> ArrivedLabels:
    source = config.monitoring.labels or config.data.source
    return ArrivedLabels(sources.read_source(source, root), sources.describe_source(source, root))


@task(name="detect-drift", cache_policy=NO_CACHE)
def drift_task(
    predictions: pd.DataFrame, baseline: DriftBaseline, config: Config, window: Window, run_id: str
) -> DriftReport:
    """The engine's verdicts on the whole window; Evidently's page on a sample, both to MLflow and Prefect."""
    frame = drift_frame(predictions, config)
    report = detect_drift(baseline.stats, frame, config.monitoring.retraining.drift_share)
    return record_drift(report, frame, baseline, config, window, run_id)


def record_drift(
    report: DriftReport, frame: pd.DataFrame, baseline: DriftBaseline, config: Config, window: Window, run_id: str
) -> DriftReport:
    """The engine's report with Evidently's page rendered on ``frame`` (the window, sampled down to
    ``monitoring.report_sample_rows``), to MLflow and Prefect, each saying what it was measured against."""
    # the champion's reference holds the columns it was trained on; the config may since name others
    kept = set(baseline.sample.columns) & set(frame.columns)
    kept &= set(page_columns(report.columns, config.monitoring.report_max_columns, keep=PREDICTION))
    features = config.data.features
    html, summary = render_report(
        baseline.sample,
        frame,
        [c for c in [*features.numeric, PREDICTION] if c in kept],
        [c for c in features.categorical if c in kept],
        config.monitoring.report_sample_rows,
        tests={c.column: c.test for c in report.columns},
        drift_share=config.monitoring.retraining.drift_share,
    )
    summary.update(columns_tested=len(report.columns), columns_on_page=len(kept))
    tracking.log_text(run_id, html, "drift/evidently_report.html")
    share, drifted, score_drifted = split_drift(report)
    # the engine's share counts the prediction as a column, as Evidently does; the policy's counts features
    policy = {"feature_drift_share": share, "drifted_features": list(drifted), "prediction_drift": score_drifted}
    tracking.log_json(
        run_id,
        {"policy": policy, "engine": report.to_dict(), "reference": baseline.to_dict(), "evidently_sample": summary},
        "drift/summary.json",
    )
    tracking.set_tags(run_id, {Tag.DRIFT_REFERENCE: baseline.description})
    features_tested = len([c for c in report.columns if c.column != PREDICTION])
    score = "not tested" if score_drifted is None else "yes" if score_drifted else "no"
    publish_table(
        f"{config.name}-drift-{window.label}",
        report.to_rows(),
        f"Drift per column, {config.name} {window.label} ({report.rows_current:,} rows) against "
        f"{baseline.description}: features drifted {len(drifted)} of {features_tested} (share {share:.2f}: "
        f"{', '.join(drifted) or 'none'}); prediction drift: {score}",
    )
    return report


@task(name="read-service-health", cache_policy=NO_CACHE, **IO_RETRIES)
def service_health_task(url: str) -> ServiceHealth:
    """The service's request, error and latency figures from its /metrics; unreachable is a finding, not a failure."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/metrics", timeout=5)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return ServiceHealth.unreachable(f"{url}/metrics: {type(exc).__name__}: {exc}")
    return service_health(response.text)
