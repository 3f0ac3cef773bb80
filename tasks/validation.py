"""Validate a window against the data contract; record the result, then enforce it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config, TimeSplit
from perennial.core.data import split_frame
from perennial.core.names import Artifact, Tag
from perennial.core.validation import SuiteSpec, ValidationReport, derive_suite, validate_frame
from perennial.core.validation_report import validation_tags
from perennial.core.validation_units import Earlier
from perennial.io import tracking
from perennial.io.monitor_store import MonitorStore
from perennial.io.registry import Registry
from tasks.common import IO_RETRIES, publish_markdown

SUITE_ARTIFACT = Artifact.SUITE


@task(name="reference-suite", cache_policy=NO_CACHE)
def reference_suite_task(config: Config, registry: Registry, frame: pd.DataFrame, run_id: str) -> SuiteSpec:
    """The champion's data contract when there is one, else one derived from this training window.

    New data is judged against what the serving model was trained on, not against itself.
    """
    # This window's own contract is stored with the run: it becomes the contract of the model trained here
    train, _ = split_frame(frame, config)
    own = derive_suite(config, train)
    tracking.log_json(run_id, own.to_dict(), SUITE_ARTIFACT)
    champion = registry.champion()
    stored = tracking.load_json(champion.training_run, SUITE_ARTIFACT) if champion and champion.training_run else None
    tracking.set_tags(
        run_id, {Tag.SUITE_FROM: f"champion v{champion.version}" if stored and champion else "this window"}
    )
    return SuiteSpec.from_dict(stored) if stored else own


@task(name="read-accepted-quartiles", cache_policy=NO_CACHE, **IO_RETRIES)
def earlier_quartiles_task(config: Config, ledger_url: str, before: str | None = None) -> Earlier:
    """Each watched column's quartiles in the last window monitoring accepted (before the window labelled
    ``before``): a move from the reference that is small from them is a trend, not a unit change
    (core/validation_units.py)."""
    store = MonitorStore(ledger_url)
    try:
        return store.accepted_quartiles(config.name, before=before)
    finally:
        store.close()


@task(name="validate-data", cache_policy=NO_CACHE)
def validate_task(
    frame: pd.DataFrame,
    suite: SuiteSpec,
    config: Config,
    source: str,
    run_id: str,
    earlier: Earlier | None = None,
) -> ValidationReport:
    """Decide (GX suite), record (MLflow + Prefect artifact), then enforce (raise on failure).
    ``earlier``: the quartiles of the last windows monitoring accepted: a retrain on a target that grew
    as monitoring watched it is not refused as a unit change."""
    as_of = None  # no time split: freshness is judged against now
    if isinstance(config.split, TimeSplit):
        as_of = dt.datetime.combine(config.split.holdout_end, dt.time(), tzinfo=dt.UTC)
    freshness = config.validation.freshness
    report = validate_frame(
        frame,
        suite,
        source=source,
        as_of=as_of,
        freshness_hours=freshness.max_age_hours if freshness else None,
        volume=config.validation.volume,
        warnings=config.validation.warnings,
        earlier=earlier,
    )
    tracking.log_json(run_id, report.to_dict(), "validation/report.json")
    tracking.set_tags(run_id, validation_tags(report))
    publish_markdown(f"{config.name}-validation", report.to_markdown(), f"Data validation of {source}")
    return report.raise_if_failed()
