"""Score the candidate, the baseline and the champion on the same holdout, and record it."""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.evaluation import calibration_figure, confusion_figure
from perennial.core.lifecycle import Comparison, compare_on_holdout
from perennial.io import tracking
from perennial.io.registry import CHAMPION, Registry
from tasks.common import IO_RETRIES, publish_table


@task(name="load-champion", cache_policy=NO_CACHE, **IO_RETRIES)
def load_champion_task(registry: Registry) -> tuple[str, Any] | None:
    """The current champion as (label, model), or None before the first promotion."""
    version = registry.alias_version(CHAMPION)
    return None if version is None else (f"champion:v{version}", registry.load(version))


@task(name="champion-trained-through", cache_policy=NO_CACHE, **IO_RETRIES)
def champion_trained_through_task(config: Config) -> pd.Timestamp | None:
    """The last time the champion trained on (from its lineage); None without a champion or lineage."""
    registry = Registry(config.tracking.registered_model)
    version = registry.alias_version(CHAMPION)
    return None if version is None else registry.trained_through(version)


@task(name="evaluate-on-holdout", cache_policy=NO_CACHE)
def evaluate_task(
    candidate: tuple[str, Any],
    baseline: Any,
    champion: tuple[str, Any] | None,
    holdout: pd.DataFrame,
    config: Config,
    run_id: str,
    champion_trained_through: pd.Timestamp | None = None,
    span_note: str = "",
) -> Comparison:
    comparison = compare_on_holdout(candidate, baseline, champion, holdout, config, champion_trained_through, span_note)
    for role, scores in (
        ("candidate", comparison.candidate),
        ("baseline", comparison.baseline),
        ("champion", comparison.champion),
    ):
        if scores is not None:
            tracking.log_metrics(run_id, {f"{role}.{k}": v for k, v in scores.metrics().items()})
            tracking.log_json(run_id, scores.to_dict(), f"evaluation/{role}.json")
    for diff in filter(None, (comparison.versus_champion, *comparison.versus_more)):
        tracking.log_metrics(
            run_id, {f"{diff.name}": diff.value, f"{diff.name}_low": diff.low, f"{diff.name}_high": diff.high}
        )
    if comparison.evidence is not None:
        tracking.log_params(run_id, {"holdout_span": comparison.evidence.span[:500]})
    if config.task == "binary":  # one probability: a 2x2 confusion and a reliability curve mean something
        tracking.log_figure(run_id, confusion_figure(comparison.candidate), "evaluation/confusion_matrix.png")
        tracking.log_figure(run_id, calibration_figure(comparison.all_scores()), "evaluation/calibration.png")
    if comparison.class_recall_versus_champion:
        tracking.log_json(
            run_id,
            {c: d.to_dict() for c, d in comparison.class_recall_versus_champion.items()},
            "evaluation/class_recall_vs_champion.json",
        )
    rows = [
        {
            "model": s.label,
            "rows": s.rows,
            **{m.name: round(m.value, 4) for m in (s.primary, *s.secondary)},
            f"{s.primary.name} 95% CI": f"[{s.primary.low:.4f}, {s.primary.high:.4f}]",
            "ms/row": round(s.latency_ms_per_row or 0, 4),
            "size MB": round(s.size_mb or 0, 2),
        }
        for s in comparison.all_scores()
    ]
    publish_table(f"{config.name}-holdout-scores", rows, "Candidate, baseline and champion on the same holdout")
    return comparison
