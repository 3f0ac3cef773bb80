"""Monitoring of one window: data quality, drift, delayed-label performance, then the retrain policy.

Every window is one MLflow run in the ``<experiment>-monitoring`` experiment; the drift table, the
verdict and the links are Prefect artifacts. When the policy decides a retrain it emits a typed event
(``perennial.drift.detected`` / ``perennial.performance.degraded``), which the training deployment's
trigger turns into a training run gated like any other — once per drift episode (core/episodes.py);
a shift that persists after that retrain did not help emits ``perennial.drift.persistent``
(``perennial.performance.persistent`` for a performance episode) instead. Invalid data emits
``perennial.data.invalid``, never a retrain, and the flow ends FAILED with the validation message.

While a shadow or canary release runs, each window also judges the challenger on the delayed
labels of its own answers against the champion's (tasks/release.py): promote (through the
promotion flow's gate), pull, let the canary grow, or wait — ``perennial.release.decided``. A
window whose data broke its contract is still judged, but can only pull (the safe side).

Run alone:  python -m flows.monitoring --start 2013-07-01 --end 2013-08-01
"""

# No `from __future__ import annotations` here: Prefect builds each flow's parameter model from its
# annotations, and string annotations (`dt.date`) fail to resolve when a deployment runs the flow.

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import DEFAULT_CONFIG, command_line
from perennial.config import load_config
from perennial.core.label_free import describe_estimate
from perennial.core.monitoring import (
    ArrivedLabels,
    ChampionContext,
    WindowResult,
    drift_unjudged,
    event_for,
    label_shortfall,
)
from perennial.core.names import Tag
from perennial.core.release_rows import ReleaseReview
from perennial.core.service_health import ServiceHealth
from perennial.core.window_measures import WindowMeasures
from perennial.core.windows import Window, window_bounds
from perennial.errors import DataValidationFailed, GateFailed, GateInconclusive
from perennial.io import tracking
from perennial.io.preflight import with_new_rows
from perennial.io.registry import Registry
from perennial.settings import load_settings
from tasks.common import publish_markdown
from tasks.data import data_span_task, load_data_task
from tasks.events import emit
from tasks.label_free import label_free_columns, label_free_task
from tasks.monitoring import (
    champion_context_task,
    drift_baseline_task,
    drift_task,
    labels_task,
    latest_scoring_window_task,
    same_rows_as_scored,
    service_health_task,
    window_predictions_task,
)
from tasks.monitoring_decision import decide_task, perf_metrics, window_performance_task, yardstick_task
from tasks.monitoring_insights import decay_task, skew_task, worst_slice_task
from tasks.monitoring_partitions import (
    check_window_partitions_task,
    decay_partitions_task,
    drift_baseline_partitions_task,
    drift_partitions_task,
    join_partitions_task,
    label_free_rows_task,
    label_signal_rows_task,
    window_partitions_task,
)
from tasks.monitoring_validation import (
    check_label_signal_task,
    check_window_labels_task,
    check_window_task,
    label_signal_columns,
)
from tasks.release import publish_release_task, record_release_task, review_release_task
from tasks.runners import data_scheduler
from tasks.runs import tracked_flow
from tasks.scoring_partitions import open_window_task
from tasks.validation import earlier_quartiles_task


def _run_name() -> str:
    params = flow_run.parameters
    name = params.get("config_path", DEFAULT_CONFIG).rsplit("/", 1)[-1].removesuffix(".yaml")
    return f"monitor-{name}-{params.get('window_start') or 'latest'}"


@flow(name="monitoring", flow_run_name=_run_name, log_prints=True)
def monitoring_flow(
    config_path: str = DEFAULT_CONFIG,
    window_start: dt.date | None = None,
    window_end: dt.date | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """Monitor [window_start, window_end) (default: the last full window of the configured length;
    without a time column, the window holding the latest scoring).

    ``data``: a file of new rows scored with ``batch_scoring_flow(data=...)``, read for the window
    instead of the config's source (its labels, if any, judge it); default window: the days it spans.
    """
    settings = load_settings()
    config = load_config(settings.root / config_path)
    if data is not None:
        config = with_new_rows(config, Path(data))
    if window_start is None and config.data.time_column is None:  # the window holding the latest scoring
        window = latest_scoring_window_task(config, settings.root, None if data is None else Path(data).resolve())
        if data is None and window.scored_from is not None:  # its own rows and labels, not the source's
            print(f"{window.label} scored {window.scored_from}: its rows and labels are judged")
            config = with_new_rows(config, Path(window.scored_from))
    elif data is not None and window_start is None and window_end is None:  # the days the new rows span
        first, last = data_span_task(config, settings.root)
        today = dt.datetime.now(dt.UTC).date()
        window = window_bounds(config.monitoring.window, first, last + dt.timedelta(days=1), today)
    else:
        window = window_bounds(config.monitoring.window, window_start, window_end, dt.datetime.now(dt.UTC).date())
    experiment = f"{config.tracking.experiment}-monitoring"
    registry = Registry(config.tracking.registered_model)
    with tracked_flow(config, settings, f"monitor {window.label}", "monitoring", window.label, experiment) as (
        _,
        run_id,
    ):
        context = champion_context_task(config, registry)
        if config.data.engine.kind == "dask":  # over partitions: the window is never in one frame
            with data_scheduler(config.data.engine) as scheduler:
                measured = _measure_partitions(config, settings, registry, window, context, run_id, scheduler)
        else:
            measured = _measure(config, settings, registry, window, context, run_id)
        validation, drift, estimated = measured.validation, measured.drift, measured.estimated
        result = decide_task(
            config,
            settings.ledger_url,
            window,
            validation.passed,
            drift,
            measured.performance,
            measured.rows,
            context.version,
            measured.label_note,
            (estimated or {}).get("estimated_drop"),
            context.trained_from,
            validation.quartiles,
            measured.worst_slice,
        )
        broken = None if validation.passed else validation.summary(limit=3)
        release = _release(config_path, config, settings, registry, window, measured.labels, context, run_id, broken)
        url = config.monitoring.service_url
        health = service_health_task(url) if url else None
        event = event_for(result, window, config.monitoring.retraining.performance_tolerance, validation.summary())
        event_id = emit(event) if event is not None else None
        unjudged = drift_unjudged(measured.rows, config.monitoring.min_drift_rows) if drift else None
        _record(
            result,
            event.name if event else None,
            event_id,
            f"{drift.summary()}; against {measured.reference}" + (f"; {unjudged}" if unjudged else "")
            if drift
            else validation.summary(),
            run_id,
            config.name,
            health,
            describe_estimate(estimated, config.evaluation.primary_metric),
        )
        # recorded, not blocking (a column gone mostly missing, by default): said beside the decision,
        # after the rules that blocked (a column that broke one is not warned about again)
        failed = validation.failures
        blocked = [f.describe() for f in failed[:3]]
        warned = [w.describe() for w in validation.warnings if w.column not in {f.column for f in failed}]
        off = result.calibration_note()
        print(
            f"{window.label}: {result.decision.why}"
            + (f" ({'; '.join(blocked)})" if blocked else "")
            + (f" → {event.name}" if event else "")
            + (f"; data warnings: {'; '.join(warned)}" if warned else "")
            + (f"; {off}" if off else "")
        )
        if not validation.passed:
            raise DataValidationFailed(validation)
    return {
        **result.to_dict(),
        # the UTC days judged: a label names a window by its first day ("2023-09-30" for new rows of
        # October to December written at +02:00), which alone reads as the wrong month
        "days": None if window.batch else [window.start.isoformat(), (window.end - dt.timedelta(days=1)).isoformat()],
        "data_warnings": warned,
        "calibration": off,  # the scores no longer match the window's positive rate (binary), in words
        "event": event.name if event else None,
        "mlflow_run_id": run_id,
        "service": health.to_dict() if health else None,
        "skew": measured.skew.to_dict() if measured.skew else None,
        "estimated": estimated,
        "drift_reference": measured.reference,
        "decayed_features": [d.feature for d in measured.decay if d.decayed] if measured.decay is not None else None,
        "release": release.to_dict() if release else None,
    }


def _measure(
    config: Any, settings: Any, registry: Registry, window: Window, context: ChampionContext, run_id: str
) -> WindowMeasures:
    """The window in one pandas frame, its predictions in another."""
    frame, source = load_data_task(config, settings.root, window.start, window.end)
    same_rows_as_scored(frame, config, window)
    earlier = earlier_quartiles_task(config, settings.ledger_url, window.label)
    validation = check_window_task(frame, context.suite, config, source, window, run_id, earlier)
    if not validation.passed:
        return WindowMeasures(validation, validation.rows)
    predictions = window_predictions_task(config, settings.root, window)
    baseline = drift_baseline_task(config, settings.root, window, context)
    drift = drift_task(predictions, baseline, config, window, run_id)
    estimated = label_free_task(predictions, context, config, run_id)  # CBPE, DLE: no label
    labels = labels_task(config, settings.root)
    joined = labels.join(predictions, config, context.labels)
    validation = check_window_labels_task(validation, joined, context.suite, config, window, run_id, earlier)
    validation = check_label_signal_task(
        validation, joined, predictions, drift, config, window, run_id, context.label_free
    )
    if not validation.passed:  # the labels broke: the window is refused like bad data, never learnt from
        return WindowMeasures(validation, len(predictions))
    yardstick = yardstick_task(config, settings.ledger_url, context.version, context.holdout, window)
    performance = window_performance_task(joined, config, yardstick)
    worst = worst_slice_task(joined, predictions, config, performance)
    return WindowMeasures(
        validation,
        len(predictions),
        drift,
        estimated,
        performance,
        label_shortfall(joined, config),
        skew_task(config, settings.root, window, context, run_id),  # served inputs vs training, apart from drift
        decay_task(config, registry, predictions, joined, context, run_id),
        labels,
        baseline.description,
        worst.describe() if worst else None,
    )


def _measure_partitions(
    config: Any,
    settings: Any,
    registry: Registry,
    window: Window,
    context: ChampionContext,
    run_id: str,
    scheduler: Any,
) -> WindowMeasures:
    """The same measures over Dask partitions: only aggregates, the joined label rows and bounded
    samples come into memory (tasks/monitoring_partitions.py says which)."""
    lazy, source = open_window_task(config, settings.root, window.start, window.end)
    earlier = earlier_quartiles_task(config, settings.ledger_url, window.label)
    validation = check_window_partitions_task(lazy, context.suite, config, source, window, run_id, scheduler, earlier)
    if not validation.passed:
        return WindowMeasures(validation, validation.rows)
    predictions = window_partitions_task(config, settings.root, window, scheduler)
    baseline = drift_baseline_partitions_task(config, settings.root, window, context, scheduler)
    drift = drift_partitions_task(predictions, baseline, config, window, run_id, scheduler)
    columns = label_free_columns(list(predictions.frame.columns), context, config)
    estimated = label_free_task(label_free_rows_task(predictions, columns, scheduler), context, config, run_id)
    joined = join_partitions_task(predictions, config, settings.root, context.labels, scheduler)
    validation = check_window_labels_task(validation, joined, context.suite, config, window, run_id, earlier)
    rows = None  # the labelled rows' features, fetched for the label-signal tests and the worst slice
    if validation.passed and label_shortfall(joined, config) is None:
        columns = [*label_signal_columns(config, context.label_free), *config.evaluation.slices]
        rows = label_signal_rows_task(predictions, joined, columns, scheduler)
        validation = check_label_signal_task(
            validation, joined, rows, drift, config, window, run_id, context.label_free, scored=predictions.rows
        )
    if not validation.passed:  # the labels broke: the window is refused like bad data, never learnt from
        return WindowMeasures(validation, predictions.rows)
    yardstick = yardstick_task(config, settings.ledger_url, context.version, context.holdout, window)
    performance = window_performance_task(joined, config, yardstick)
    worst = worst_slice_task(joined, rows, config, performance) if rows is not None else None
    return WindowMeasures(
        validation,
        predictions.rows,
        drift,
        estimated,
        performance,
        label_shortfall(joined, config),
        skew_task(config, settings.root, window, context, run_id),  # the service's rows only: not the window
        decay_partitions_task(config, registry, predictions, joined, context, run_id, scheduler),
        reference=baseline.description,
        worst_slice=worst.describe() if worst else None,
    )


def _release(
    config_path: str,
    config: Any,
    settings: Any,
    registry: Registry,
    window: Any,
    labels: ArrivedLabels | None,
    context: ChampionContext,
    run_id: str,
    broken: str | None,
) -> ReleaseReview | None:
    """Judge a running shadow or canary release on outcomes; under release.decide auto, act on it.
    A window whose data broke its contract (``broken``) can pull the challenger, not promote or grow it."""
    reviewed = review_release_task(
        config, settings.root, registry, settings.ledger_url, window, labels, context.labels, broken
    )
    if reviewed is None:
        return None
    review, step = reviewed
    gate_stopped = None
    if review.acted and review.decision.action == "promote":
        from flows.promotion import promotion_flow  # the normal gate path: the holdout gate, then the ledger

        try:
            promotion_flow(review.challenger_version, config_path)
        except (GateFailed, GateInconclusive) as exc:
            gate_stopped = str(exc).splitlines()[0][:500]
    review = record_release_task(review, step, registry, settings.ledger_url, run_id, gate_stopped)
    publish_release_task(review, config.name, window.label, run_id)
    return review


def _record(
    result: WindowResult,
    event: str | None,
    event_id: str | None,
    drift_summary: str,
    run_id: str,
    name: str,
    health: ServiceHealth | None,
    estimate_line: str,
) -> None:
    """The window's figures, verdict and event on its MLflow run and as the flow's summary artifact."""
    metrics = perf_metrics(result.performance) | {"rows": float(result.rows)}
    if health is not None:
        metrics |= {f"service.{k}": float(v) for k, v in health.to_dict().items() if isinstance(v, int | float)}
    if result.drift_share is not None:
        metrics |= {
            "drift_share": result.drift_share,
            "drifted_columns": float(len(result.drifted_columns)),
            "prediction_drift": float(bool(result.prediction_drift)),
        }
    tracking.log_metrics(run_id, metrics)
    tags = {
        Tag.WINDOW: result.window,
        Tag.CHAMPION_VERSION: result.champion_version or "",
        Tag.RETRAIN: str(result.decision.retrain).lower(),
        Tag.DECISION: result.decision.why[:5000],
        Tag.EVENT: event or "",
        Tag.EVENT_ID: event_id or "",
    }
    tracking.set_tags(run_id, tags)
    tracking.log_json(run_id, {**result.to_dict(), "event": event, "event_id": event_id}, "monitoring/window.json")
    lines = [
        f"## Monitoring {name} {result.window}: {'retrain (' + (result.decision.reason or '') + ')' if result.decision.retrain else 'no retrain'}",
        "",
        f"- champion: v{result.champion_version}; rows scored: {result.rows:,}; data valid: {result.data_valid}",
        f"- drift: {drift_summary}",
        f"- performance: {result.performance_line()}",
        f"- label-free estimate (CBPE, DLE): {estimate_line}",
        f"- service: {health.describe() if health else 'not monitored (monitoring.service_url unset)'}",
        f"- decision: {result.decision.why}",
        f"- drift episode: {result.episode.describe() if result.episode else 'none'}",
        f"- event: {event or 'none'}",
        f"- MLflow run: `{tracking.run_url(run_id)}` ({run_id})",
    ]
    publish_markdown(
        f"{name}-monitoring-{result.window}", "\n".join(lines), f"Monitoring verdict, {name} {result.window}"
    )


if __name__ == "__main__":
    parser = command_line(__doc__, "--start", "--end")
    parser.add_argument("--data", default=None, help="a file of new rows (scored with --data) to monitor")
    args = parser.parse_args()
    monitoring_flow(args.config, args.start, args.end, args.data)
