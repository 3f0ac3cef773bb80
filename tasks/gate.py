"""The promotion gate: decide (pure), record (MLflow + Prefect artifact), enforce (raise)."""

from __future__ import annotations

from dataclasses import replace

from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.gates import Check, GateReport, check_promotion
from perennial.core.lifecycle import Comparison
from perennial.core.names import Tag
from perennial.core.task_evaluation import class_recall_checks
from perennial.io import tracking
from tasks.common import publish_markdown


@task(name="promotion-gate", cache_policy=NO_CACHE)
def gate_task(
    comparison: Comparison,
    config: Config,
    run_id: str,
    extra_checks: tuple[Check, ...] = (),
    appendix: str = "",
    reason: str = "manual",
) -> GateReport:
    """The gate's checks (plus any the insights add, e.g. expected cost), recorded with a readable report.

    ``reason`` is what asked for the run: a retrain asked for by a performance drop or drift must improve.
    """
    report = check_promotion(
        comparison.candidate,
        comparison.baseline,
        comparison.champion,
        comparison.versus_champion,
        config.gate,
        config.evaluation.primary_metric,
        evidence=comparison.evidence,
        versus_more=comparison.versus_more,
        reason=reason,
        drift_alone=not config.monitoring.retraining.drift_needs_drop,
    )
    if report.mode != "off":  # multiclass: each class's recall against the champion's, one check per class
        per_class = comparison.class_recall_versus_champion if comparison.champion is not None else None
        extra_checks = (*class_recall_checks(per_class, config.gate), *extra_checks)
    report = replace(report, checks=report.checks + extra_checks)
    markdown = report.to_markdown() + (f"\n{appendix}" if appendix else "")
    tracking.log_json(run_id, report.to_dict(), "gate/report.json")
    tracking.log_text(run_id, markdown, "gate/report.md")
    tracking.set_tags(run_id, {Tag.GATE: report.verdict.value})
    publish_markdown(f"{config.name}-gate-report", markdown, f"Gate for {comparison.candidate.label}")
    return report


@task(name="enforce-gate", cache_policy=NO_CACHE)
def enforce_gate_task(report: GateReport, config: Config) -> GateReport:
    """Only an enforced gate that failed stops the flow; inconclusive keeps the champion and ends well."""
    return report.raise_if_failed() if config.gate.mode == "enforced" else report
