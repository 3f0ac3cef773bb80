"""Monitoring beyond drift: train/serve skew of what the service received, features losing importance, and
where a drop sits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.data import model_inputs
from perennial.core.drift import ReferenceStats
from perennial.core.importance import FeatureDecay, ImportanceReport, flag_decayed_features, permutation_importances
from perennial.core.label_signal import signal_rows, with_features
from perennial.core.monitoring import PREDICTION, ChampionContext, Performance
from perennial.core.names import Tag
from perennial.core.skew import SkewReport, detect_skew
from perennial.core.window_slices import WorstSlice, worst_slice
from perennial.core.windows import Window
from perennial.io import tracking
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry
from tasks.common import IO_RETRIES, publish_markdown, publish_table
from tasks.insights import IMPORTANCE_JSON


@task(name="train-serve-skew", cache_policy=NO_CACHE, **IO_RETRIES)
def skew_task(config: Config, root: Path, window: Window, context: ChampionContext, run_id: str) -> SkewReport | None:
    """The champion's served inputs in the window against its training features; None when nothing was served."""
    served = open_store(config, root).read("service", window.start, window.end)
    served = served[served["model_version"].astype(str) == context.version] if not served.empty else served
    if served.empty:
        return None
    stats = context.stats
    training = ReferenceStats(
        numeric={k: v for k, v in stats.numeric.items() if k != PREDICTION},
        categorical=dict(stats.categorical),
        rows=stats.rows,
    )
    report = detect_skew(training, served, context.version, config.monitoring.retraining.drift_share)
    tracking.log_json(run_id, report.to_dict(), "skew/report.json")
    tracking.log_metrics(
        run_id, {"skew.columns": float(len(report.skewed_columns)), "skew.served_rows": float(report.served_rows)}
    )
    publish_markdown(
        f"{config.name}-skew-{window.label}", report.to_markdown(), f"Train/serve skew, {config.name} {window.label}"
    )
    return report


@task(name="worst-slice", cache_policy=NO_CACHE)
def worst_slice_task(
    joined: pd.DataFrame, predictions: pd.DataFrame, config: Config, performance: Performance | None
) -> WorstSlice | None:
    """Where a drop beyond the tolerance sits: the slice value whose labelled rows score furthest below the
    window's (core/window_slices.py); None when there is no such drop, or no slice stands out. Judged on the
    label-signal tests' rows (all labelled rows, or their seeded sample past 200,000), so over partitions
    ``predictions`` need hold only those rows' slice columns."""
    if performance is None or not performance.beyond(config.monitoring.retraining.performance_tolerance):
        return None
    return worst_slice(with_features(signal_rows(joined), predictions, config.evaluation.slices), config)


@task(name="feature-decay", cache_policy=NO_CACHE, **IO_RETRIES)
def decay_task(
    config: Config,
    registry: Registry,
    predictions: pd.DataFrame,
    joined: pd.DataFrame,
    context: ChampionContext,
    run_id: str,
) -> tuple[FeatureDecay, ...] | None:
    """Permutation importance on the window's labelled rows against the champion's at training time."""
    stored = importance_at_training(config, joined, context)
    if stored is None:
        return None
    rows = predictions.merge(joined[["id", "label"]], on="id")
    return measure_decay(config, registry, rows, stored, context, run_id, predictions["event_time"].min())


def importance_at_training(config: Config, joined: pd.DataFrame, context: ChampionContext) -> dict[str, Any] | None:
    """The champion's importance at training, when the window's labelled rows can be weighed against it."""
    stored = tracking.load_json(context.training_run, IMPORTANCE_JSON)
    # as for the window's performance: too few labels, or one class only (the metric is undefined), measure nothing
    if stored is None or len(joined) < config.monitoring.min_labelled_rows or joined["label"].nunique() < 2:
        return None
    found: dict[str, Any] = stored
    return found


def measure_decay(
    config: Config,
    registry: Registry,
    rows: pd.DataFrame,
    stored: dict[str, Any],
    context: ChampionContext,
    run_id: str,
    first_event: pd.Timestamp,
) -> tuple[FeatureDecay, ...]:
    """Permutation importance on ``rows`` (labelled prediction rows, in the window's order) against
    ``stored``, flagged, recorded; ``first_event`` names the Prefect table."""
    if config.data.time_column:  # the store keeps the event time apart; the model may read it as a feature
        rows = rows.rename(columns={"event_time": config.data.time_column})
    model = registry.load(context.version)
    # pandas-stubs overloads astype per literal dtype; this one is chosen at run time
    dtype: Any = {"regression": "float64", "multiclass": str}.get(config.task, "int64")
    labels = rows["label"].astype(dtype).to_numpy()
    now = permutation_importances(
        model,
        model_inputs(model, rows, config),
        labels,
        config.evaluation.primary_metric,
        config.evaluation.importance,
        config.training.seed,
        config.task,
    )
    decays = flag_decayed_features(
        ImportanceReport.from_dict(stored).as_mapping(), now.as_mapping(), config.monitoring.max_importance_drop
    )
    table = [
        {
            "feature": d.feature,
            "at training": round(d.at_training, 5),
            "now": round(d.now, 5),
            "drop": round(d.drop_share, 3),
            "decayed": d.decayed,
        }
        for d in decays
    ]
    tracking.log_json(run_id, {"now": now.to_dict(), "decay": table}, "importance/decay.json")
    decayed = [d.feature for d in decays if d.decayed]
    tracking.set_tags(run_id, {Tag.DECAYED_FEATURES: ",".join(decayed) or "none"})
    publish_table(
        f"{config.name}-feature-decay-{first_event:%Y-%m-%d}",
        table,
        f"Importance now vs at training; decayed: {', '.join(decayed) or 'none'}",
    )
    return decays
