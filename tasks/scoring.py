"""Batch scoring: load a model by alias, check the window, score it, write its partitions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.data import check_finite
from perennial.core.fingerprint import inputs_fingerprint
from perennial.core.names import PREDICTED_CLASS, Tag
from perennial.core.predict import decision_threshold, served_model
from perennial.core.scoring import score_frame
from perennial.core.validation import SuiteSpec, ValidationReport, validate_frame
from perennial.core.validation_report import validation_tags
from perennial.errors import RegistryError
from perennial.io import tracking
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry
from tasks.common import IO_RETRIES, publish_markdown, publish_table
from tasks.validation import SUITE_ARTIFACT


@task(name="load-model", cache_policy=NO_CACHE, **IO_RETRIES)
def load_model_task(registry: Registry, alias: str) -> tuple[str, Any, SuiteSpec]:
    """(version, model, the data contract it was trained under) for a registry alias."""
    ref = registry.require(alias)
    stored = tracking.load_json(ref.training_run, SUITE_ARTIFACT) if ref.training_run else None
    if stored is None:
        raise RegistryError(f"model '{registry.name}' v{ref.version} has no data contract ({SUITE_ARTIFACT})")
    return (
        ref.version,
        served_model(registry.load(ref.version), registry.info(ref.version).tags),
        SuiteSpec.from_dict(stored),
    )


@task(name="validate-scoring-input", cache_policy=NO_CACHE)
def validate_scoring_input_task(
    frame: pd.DataFrame,
    suite: SuiteSpec,
    source: str,
    run_id: str,
    config_name: str = "batch",
    warnings: Collection[str] | None = None,
) -> ValidationReport:
    """Serving-side checks with the training suite: schema, types, categories (no labels yet).
    ``warnings``: the config's ``validation.warnings`` now, as monitoring reads them; the champion's
    contract kept the list it was trained with, and a rule a user listed since still blocked scoring.

    The column checks run vectorised (GX's verdicts and wording, a fraction of its time: scoring a
    million rows must not wait seconds on its input check)."""
    report = validate_frame(frame, suite, source=source, require_target=False, engine="vectorised", warnings=warnings)
    return record_validation(report, run_id, config_name).raise_if_failed()


def record_validation(report: ValidationReport, run_id: str, config_name: str) -> ValidationReport:
    """The scoring input's report to MLflow (file and tags) and to a Prefect artifact."""
    tracking.log_json(run_id, report.to_dict(), "validation/report.json")
    tracking.set_tags(run_id, validation_tags(report))
    publish_markdown(
        f"{config_name}-scoring-validation", report.to_markdown(), f"Scoring input check of {report.source}"
    )
    return report


@task(name="record-scored-inputs", cache_policy=NO_CACHE, **IO_RETRIES)
def record_scored_inputs_task(frame: pd.DataFrame, config: Config, run_id: str) -> None:
    """The fingerprint of a scored file's model inputs, on the run: monitored later, the file must still
    hold these rows (labels added since leave it as it was)."""
    digest = inputs_fingerprint(frame, config.data.features.columns, config.data.id_column)
    tracking.set_tags(run_id, {Tag.SCORED_INPUTS: digest})


@task(name="decision-threshold", cache_policy=NO_CACHE, **IO_RETRIES)
def decision_threshold_task(registry: Registry, version: str, config: Config) -> float:
    """The version's decision threshold (its cost-minimising one, else the config's)."""
    return decision_threshold(registry.info(version).tags, config.evaluation.threshold)


@task(name="score-window", cache_policy=NO_CACHE)
def score_task(
    model: Any, frame: pd.DataFrame, config: Config, version: str, run_id: str, threshold: float | None = None
) -> pd.DataFrame:
    """Prediction rows stamped with this scoring run's id; rows, latency and the score distribution go to MLflow."""
    started = time.perf_counter()
    check_finite(frame, config.data.features.numeric, "the scoring window")
    name = config.tracking.registered_model
    predictions = with_run_id(score_frame(model, frame, config, name, version, threshold=threshold), run_id)
    record_scoring(predictions, time.perf_counter() - started, config, version, run_id)
    return predictions


def with_run_id(predictions: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The MLflow run that wrote a row, beside its model version: its metrics and validation report explain it."""
    at = cast(int, predictions.columns.get_loc("model_version"))  # a unique column: its position
    predictions.insert(at + 1, "run_id", run_id)
    return predictions


def record_scoring(predictions: pd.DataFrame, seconds: float, config: Config, version: str, run_id: str) -> None:
    """Rows, latency and the score distribution to MLflow, a table to Prefect (``predictions`` needs only
    the prediction and label columns)."""
    summary = scoring_summary(predictions, seconds, config.task)
    tracking.log_metrics(run_id, summary)
    value_range = (
        None
        if config.task != "regression"
        else (float(predictions["prediction"].min()), float(predictions["prediction"].max()))
    )
    tracking.log_json(
        run_id, score_histogram(predictions["prediction"], value_range=value_range), "scoring/prediction_histogram.json"
    )
    tracking.set_tags(run_id, {Tag.MODEL_VERSION: version, Tag.ROWS: len(predictions)})
    rows = [{k: round(v, 4) for k, v in summary.items()}]
    publish_table(
        f"{config.name}-batch-scoring", rows, f"Window scored by {config.tracking.registered_model} v{version}"
    )


def scoring_summary(predictions: pd.DataFrame, seconds: float, task: str = "binary") -> dict[str, float]:
    scores = predictions["prediction"]
    quantiles = scores.quantile([0.1, 0.5, 0.9])
    return {
        "rows": len(predictions),
        "score_seconds": seconds,
        "latency_ms_per_row": 1000 * seconds / len(predictions) if len(predictions) else 0.0,
        "rows_per_second": len(predictions) / seconds if seconds else 0.0,
        "prediction_mean": float(scores.mean()),
        "prediction_p10": float(quantiles[0.1]),
        "prediction_p50": float(quantiles[0.5]),
        "prediction_p90": float(quantiles[0.9]),
        **({"positive_rate": float(predictions["predicted_label"].mean())} if task == "binary" else {}),
        **(
            {f"class_share.{c}": float(s) for c, s in predictions[PREDICTED_CLASS].value_counts(normalize=True).items()}
            if task == "multiclass"
            else {}
        ),
    }


def score_histogram(
    scores: pd.Series, bins: int = 10, value_range: tuple[float, float] | None = None
) -> dict[str, list[float]]:
    """Counts of scores in equal-width bins over [0, 1] (a regression's values: their own range)."""
    counts, edges = np.histogram(scores.to_numpy(dtype="float64"), bins=bins, range=value_range or (0.0, 1.0))
    return {"edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]}


@task(name="write-predictions", cache_policy=NO_CACHE, **IO_RETRIES)
def write_predictions_task(predictions: pd.DataFrame, config: Config, root: Path, run_id: str) -> list[dt.date]:
    """Replace each date's batch partition atomically: a re-run never duplicates rows. Without a time
    column every scoring is a batch of its own, stamped with its scoring time (a monitoring window,
    ``monitoring.window: batch``): it is added, never replacing the day's earlier batches."""
    store = open_store(config, root)
    if config.data.time_column is None:
        store.append("batch", predictions)
        days = sorted(set(predictions["event_time"].dt.date))
    else:
        days = store.replace_days("batch", predictions)
    tracking.log_params(run_id, {"partitions": ",".join(d.isoformat() for d in days)})
    return list(days)
