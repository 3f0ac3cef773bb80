"""What production teams learn the hard way, recorded on every training run (issue 9).

The data profile (and its diff against the champion's), the gated candidate's error analysis,
its business cost, and its permutation importance: each a pure core call, recorded in the
flow's MLflow run and as a short Prefect artifact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sklearn.base import clone

from perennial.config import Config
from perennial.core.cost import CostReport, cost_check, cost_report, validation_probabilities
from perennial.core.data import features_of, labels_of, model_inputs
from perennial.core.error_analysis import ErrorAnalysis, analyze_errors
from perennial.core.gates import Check
from perennial.core.importance import ImportanceReport, permutation_importances
from perennial.core.profile import DataProfile, ProfileDiff, diff_profiles, profile_frame
from perennial.core.training import TrainedModel
from perennial.io import tracking
from perennial.io.registry import CHAMPION, Registry
from tasks.common import IO_RETRIES, publish_markdown

PROFILE_JSON = "profile/profile.json"
IMPORTANCE_JSON = "importance/importance.json"
ERRORS_MD, TOP_LOSSES = "error_analysis/report.md", "error_analysis/top_losses.csv"
IMPORTANCE_TAG = "perennial.importance"  # on the model version: its top features, the JSON holds all
TOP_TAGGED = 8  # a tag is short: `perennial status --features` reads every feature from the JSON


def champion_training_run(config: Config) -> tuple[str, str] | None:
    """(version, training run id) of the current champion, or None."""
    registry = Registry(config.tracking.registered_model)
    version = registry.alias_version(CHAMPION)
    if version is None:
        return None
    run_id = registry.info(version).tags.get("perennial.training_run_id")
    return (version, run_id) if run_id else None


@task(name="profile-training-data", cache_policy=NO_CACHE, **IO_RETRIES)
def profile_task(train: pd.DataFrame, config: Config, run_id: str) -> tuple[DataProfile, ProfileDiff | None]:
    """Profile the training window; diff it against the champion's profile when there is one."""
    profile = profile_frame(train, config)
    tracking.log_json(run_id, profile.to_dict(), PROFILE_JSON)
    tracking.log_text(run_id, profile.to_html(), "profile/profile.html")
    publish_markdown(f"{config.name}-data-profile", profile.summary_markdown(), "Training data profile")
    diff = None
    champion = champion_training_run(config)
    stored = tracking.load_json(champion[1], PROFILE_JSON) if champion else None
    if champion and stored:
        diff = diff_profiles(DataProfile.from_dict(stored), profile, f"champion v{champion[0]}")
        tracking.log_json(run_id, diff.to_dict(), "profile/diff.json")
        tracking.log_text(run_id, diff.to_markdown(), "profile/diff.md")
        tracking.set_tags(run_id, {"perennial.profile_diff_changes": len(diff.changes)})
        publish_markdown(f"{config.name}-data-profile-diff", diff.to_markdown(), f"Training data vs champion v{champion[0]}")
    return profile, diff


def _proba(model: Any, frame: pd.DataFrame, config: Config) -> np.ndarray:
    return np.asarray(model.predict_proba(model_inputs(model, frame, config)))[:, 1]


@task(name="error-analysis", cache_policy=NO_CACHE)
def error_analysis_task(best: TrainedModel, holdout: pd.DataFrame, config: Config, run_id: str) -> ErrorAnalysis:
    """Per class and slice (worst first), and the highest-loss holdout rows, of the gated candidate."""
    label = f"candidate:{best.name}"
    report = analyze_errors(label, labels_of(holdout, config), _proba(best.model, holdout, config), holdout, config.evaluation)
    tracking.log_json(run_id, report.to_dict(), "error_analysis/report.json")
    tracking.log_text(run_id, report.to_markdown(TOP_LOSSES), ERRORS_MD)
    tracking.log_frame(run_id, report.top_losses, TOP_LOSSES)
    worst = report.worst(1)
    if worst:
        tracking.set_tags(run_id, {"perennial.worst_slice": f"{worst[0].column}={worst[0].value}"})
    publish_markdown(f"{config.name}-error-analysis", report.to_markdown(TOP_LOSSES), f"Error analysis of {label}")
    return report


@task(name="business-cost", cache_policy=NO_CACHE)
def cost_task(best: TrainedModel, train: pd.DataFrame, holdout: pd.DataFrame, config: Config, run_id: str) -> CostReport | None:
    """Threshold on validation rows (a copy fitted on the earlier training rows), cost on the holdout."""
    cost = config.evaluation.cost
    if cost is None:
        return None
    time_column = config.data.time_column

    def fit(rows: pd.DataFrame) -> Any:
        return clone(best.model).fit(features_of(rows, config), labels_of(rows, config))

    validation, proba_val = validation_probabilities(fit, lambda m, rows: _proba(m, rows, config), train, time_column,
                                                     cost.validation_share)
    report = cost_report(labels_of(validation, config), proba_val, labels_of(holdout, config),
                         _proba(best.model, holdout, config), cost, config.evaluation.threshold)
    tracking.log_metrics(run_id, {f"candidate.{k}": v for k, v in report.metrics().items()})
    tracking.log_json(run_id, report.to_dict(), "cost/report.json")
    primary = config.evaluation.primary_metric
    value = tracking.client().get_run(run_id).data.metrics.get(f"candidate.{primary}", float("nan"))
    markdown = report.to_markdown(primary, value)
    tracking.log_text(run_id, markdown, "cost/report.md")
    publish_markdown(f"{config.name}-business-cost", markdown, f"Expected cost of candidate:{best.name}")
    return report


@task(name="permutation-importance", cache_policy=NO_CACHE)
def importance_task(best: TrainedModel, holdout: pd.DataFrame, config: Config, run_id: str) -> ImportanceReport:
    report = permutation_importances(best.model, model_inputs(best.model, holdout, config), labels_of(holdout, config),
                                     config.evaluation.primary_metric, config.evaluation.importance, config.training.seed)
    tracking.log_metrics(run_id, {f"importance.{f.feature}": f.mean for f in report.features})
    tracking.log_json(run_id, report.to_dict(), IMPORTANCE_JSON)
    publish_markdown(f"{config.name}-feature-importance", report.to_markdown(), f"Permutation importance of {best.name}")
    return report


@dataclass(frozen=True, slots=True)
class CandidateInsights:
    errors: ErrorAnalysis
    cost: CostReport | None
    importance: ImportanceReport

    def gate_checks(self, config: Config) -> tuple[Check, ...]:
        ceiling = config.gate.max_expected_cost
        return () if ceiling is None or self.cost is None else (cost_check(self.cost, ceiling),)

    def gate_appendix(self, run_id: str) -> str:
        """What the gate report links to: the error analysis and the costliest rows."""
        lines = ["### Error analysis", "",
                 f"Per class and slice: `{ERRORS_MD}`; the {len(self.errors.top_losses)} highest-loss holdout rows: "
                 f"`{TOP_LOSSES}` (MLflow run `{run_id}`)."]
        worst = self.errors.worst(3)
        if worst:
            lines.append("Worst slices: " + "; ".join(
                f"{s.column}={s.value} {s.metric.name} {s.metric.value:.4f} [{s.metric.low:.4f}, {s.metric.high:.4f}]"
                for s in worst if s.metric is not None) + ".")
        if self.cost is not None:
            lines.append(f"Expected cost {self.cost.holdout_cost:.4f} {self.cost.unit}/row at threshold "
                         f"{self.cost.threshold:.3f} chosen on validation (`cost/report.md`).")
        return "\n".join(lines) + "\n"


def candidate_insights(best: TrainedModel, train: pd.DataFrame, holdout: pd.DataFrame, config: Config, run_id: str) -> CandidateInsights:
    """Error analysis, business cost and permutation importance of the chosen candidate."""
    # in the flow's thread, one after the other: each already uses every core (see tasks/runners.py)
    return CandidateInsights(
        error_analysis_task(best, holdout, config, run_id),
        cost_task(best, train, holdout, config, run_id),
        importance_task(best, holdout, config, run_id),
    )


@task(name="tag-version-insights", cache_policy=NO_CACHE, **IO_RETRIES)
def tag_version_task(config: Config, version: str | None, insights: CandidateInsights, run_id: str) -> None:
    """The model version carries its importance (top features; the run's JSON has all) and cost figures."""
    if version is None:
        return
    registry = Registry(config.tracking.registered_model)
    top = {f.feature: round(f.mean, 5) for f in insights.importance.features[:TOP_TAGGED]}
    while len(json.dumps(top)) > 4000:  # fewer features rather than a cut (invalid) JSON
        top.popitem()
    registry.set_tag(version, IMPORTANCE_TAG, json.dumps(top))
    registry.set_tag(version, "perennial.importance_artifact", f"runs:/{run_id}/{IMPORTANCE_JSON}")
    if insights.cost is not None:
        registry.set_tag(version, "perennial.decision_threshold", f"{insights.cost.threshold:.6f}")
        registry.set_tag(version, "perennial.expected_cost", f"{insights.cost.holdout_cost:.6f} {insights.cost.unit}/row")
