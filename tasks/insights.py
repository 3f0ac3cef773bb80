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
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sklearn.base import clone

from perennial.config import Config
from perennial.core.cost import CostReport, cost_check, cost_report, validation_probabilities
from perennial.core.data import features_of, model_inputs
from perennial.core.error_analysis import ErrorAnalysis, analyze_errors
from perennial.core.gates import Check
from perennial.core.importance import ImportanceReport, permutation_importances
from perennial.core.names import Tag
from perennial.core.predict import classes_of, predict, targets_of
from perennial.core.profile import DataProfile, ProfileDiff, diff_profiles, profile_frame
from perennial.core.task_cost import (
    ClassCostReport,
    RegressionCostReport,
    class_cost_report,
    regression_cost_report,
    task_cost_check,
)
from perennial.core.task_errors import (
    MulticlassErrors,
    RegressionErrors,
    analyze_multiclass_errors,
    analyze_regression_errors,
    multiclass_confusion_figure,
    residual_figure,
)
from perennial.core.training import TrainedModel
from perennial.io import tracking
from perennial.io.registry import Registry
from tasks.common import IO_RETRIES, publish_markdown

PROFILE_JSON = "profile/profile.json"
IMPORTANCE_JSON = "importance/importance.json"
ERRORS_MD, TOP_LOSSES = "error_analysis/report.md", "error_analysis/top_losses.csv"
TOP_TAGGED = 8  # a tag is short: `perennial status --features` reads every feature from the JSON


@task(name="profile-training-data", cache_policy=NO_CACHE, **IO_RETRIES)
def profile_task(
    train: pd.DataFrame, config: Config, registry: Registry, run_id: str
) -> tuple[DataProfile, ProfileDiff | None]:
    """Profile the training window; diff it against the champion's profile when there is one."""
    profile = profile_frame(train, config)
    tracking.log_json(run_id, profile.to_dict(), PROFILE_JSON)
    tracking.log_text(run_id, profile.to_html(), "profile/profile.html")
    publish_markdown(f"{config.name}-data-profile", profile.summary_markdown(), "Training data profile")
    diff = None
    champion = registry.champion()
    stored = tracking.load_json(champion.training_run, PROFILE_JSON) if champion and champion.training_run else None
    if champion and stored:
        diff = diff_profiles(DataProfile.from_dict(stored), profile, f"champion v{champion.version}")
        tracking.log_json(run_id, diff.to_dict(), "profile/diff.json")
        tracking.log_text(run_id, diff.to_markdown(), "profile/diff.md")
        tracking.set_tags(run_id, {Tag.PROFILE_DIFF_CHANGES: len(diff.changes)})
        publish_markdown(
            f"{config.name}-data-profile-diff", diff.to_markdown(), f"Training data vs champion v{champion.version}"
        )
    return profile, diff


def _proba(model: Any, frame: pd.DataFrame, config: Config) -> np.ndarray:
    """The task's prediction: positive probability, class probabilities or value."""
    return predict(model, model_inputs(model, frame, config), config.task)


Errors = ErrorAnalysis | RegressionErrors | MulticlassErrors
Cost = CostReport | RegressionCostReport | ClassCostReport


def _analyze(label: str, model: Any, holdout: pd.DataFrame, config: Config, run_id: str) -> Errors:
    y, predicted, ev = targets_of(holdout, config), _proba(model, holdout, config), config.evaluation
    if config.task == "regression":
        errors = analyze_regression_errors(label, y, predicted, holdout, ev)
        tracking.log_figure(run_id, residual_figure(label, y, predicted), "error_analysis/residuals.png")
        return errors
    if config.task == "multiclass":
        multi = analyze_multiclass_errors(label, y, predicted, classes_of(model, config.task), holdout, ev)
        tracking.log_figure(run_id, multiclass_confusion_figure(multi), "error_analysis/confusion_matrix.png")
        return multi
    return analyze_errors(label, y, predicted, holdout, ev)


@task(name="error-analysis", cache_policy=NO_CACHE)
def error_analysis_task(best: TrainedModel, holdout: pd.DataFrame, config: Config, run_id: str) -> Errors:
    """Per class and slice (worst first), and the highest-loss holdout rows, of the gated candidate."""
    label = f"candidate:{best.name}"
    report = _analyze(label, best.model, holdout, config, run_id)
    tracking.log_json(run_id, report.to_dict(), "error_analysis/report.json")
    tracking.log_text(run_id, report.to_markdown(TOP_LOSSES), ERRORS_MD)
    tracking.log_frame(run_id, report.top_losses, TOP_LOSSES)
    worst = report.worst(1) if isinstance(report, ErrorAnalysis) else ()
    if worst:
        tracking.set_tags(run_id, {Tag.WORST_SLICE: f"{worst[0].column}={worst[0].value}"})
    if why := _no_positive_decided(report, config):
        get_run_logger().warning(why)
        tracking.set_tags(run_id, {Tag.NO_POSITIVE_DECIDED: why})
    publish_markdown(f"{config.name}-error-analysis", report.to_markdown(TOP_LOSSES), f"Error analysis of {label}")
    return report


def _no_positive_decided(report: Errors, config: Config) -> str | None:
    """A warning, not a gate failure: the probabilities may be good, only the threshold is wrong for them.
    With a cost block the threshold is the cost's choice, and deciding none may be the cheapest."""
    if not isinstance(report, ErrorAnalysis) or config.evaluation.cost is not None:
        return None
    return report.no_positive_decided()


def _validation(
    best: TrainedModel, train: pd.DataFrame, config: Config, share: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Honest validation predictions: a copy fitted on the earlier training rows scores the latest ones."""

    def fit(rows: pd.DataFrame) -> Any:
        return clone(best.model).fit(features_of(rows, config), targets_of(rows, config))

    return validation_probabilities(
        fit, lambda m, rows: _proba(m, rows, config), train, config.data.time_column, share, config.training.seed
    )


def _task_cost(best: TrainedModel, train: pd.DataFrame, holdout: pd.DataFrame, config: Config) -> Cost | None:
    ev, y = config.evaluation, targets_of(holdout, config)
    if config.task == "regression" and ev.regression_cost is not None:
        validation, predicted_val = _validation(best, train, config, ev.regression_cost.validation_share)
        return regression_cost_report(
            targets_of(validation, config), predicted_val, y, _proba(best.model, holdout, config), ev.regression_cost
        )
    if config.task == "multiclass" and ev.class_cost is not None:
        return class_cost_report(
            y, _proba(best.model, holdout, config), classes_of(best.model, config.task), ev.class_cost
        )
    if config.task == "binary" and ev.cost is not None:
        validation, proba_val = _validation(best, train, config, ev.cost.validation_share)
        return cost_report(
            targets_of(validation, config), proba_val, y, _proba(best.model, holdout, config), ev.cost, ev.threshold
        )
    return None


@task(name="business-cost", cache_policy=NO_CACHE)
def cost_task(
    best: TrainedModel, train: pd.DataFrame, holdout: pd.DataFrame, config: Config, run_id: str
) -> Cost | None:
    """Binary: threshold on validation rows; regression: the prediction shift on them; multiclass: least-cost class."""
    report = _task_cost(best, train, holdout, config)
    if report is None:
        return None
    tracking.log_metrics(run_id, {f"candidate.{k}": v for k, v in report.metrics().items()})
    tracking.log_json(run_id, report.to_dict(), "cost/report.json")
    primary = config.evaluation.primary_metric
    value = tracking.client().get_run(run_id).data.metrics.get(f"candidate.{primary}", float("nan"))
    markdown = report.to_markdown(primary, value) if isinstance(report, CostReport) else _cost_markdown(report)
    tracking.log_text(run_id, markdown, "cost/report.md")
    publish_markdown(f"{config.name}-business-cost", markdown, f"Expected cost of candidate:{best.name}")
    return report


def _cost_markdown(report: RegressionCostReport | ClassCostReport) -> str:
    lines = [f"## Business cost ({report.unit} per holdout row, {report.holdout_rows:,} rows)", ""]
    if isinstance(report, RegressionCostReport):
        lines += [
            f"Served value shifted by {report.shift:+.4g} (the q{report.quantile:.2f} residual on validation rows): "
            f"{report.holdout_cost:.4g}/row; unshifted {report.holdout_cost_unshifted:.4g}/row."
        ]
    else:
        lines += [
            f"Least expected cost class: {report.holdout_cost:.4g}/row; most probable class: "
            f"{report.holdout_cost_argmax:.4g}/row ({report.changed_rows:,} rows decided differently)."
        ]
    return "\n".join(lines) + "\n"


@task(name="permutation-importance", cache_policy=NO_CACHE)
def importance_task(best: TrainedModel, holdout: pd.DataFrame, config: Config, run_id: str) -> ImportanceReport:
    report = permutation_importances(
        best.model,
        model_inputs(best.model, holdout, config),
        targets_of(holdout, config),
        config.evaluation.primary_metric,
        config.evaluation.importance,
        config.training.seed,
        config.task,
    )
    tracking.log_metrics(run_id, {f"importance.{f.feature}": f.mean for f in report.features})
    tracking.log_json(run_id, report.to_dict(), IMPORTANCE_JSON)
    publish_markdown(
        f"{config.name}-feature-importance", report.to_markdown(), f"Permutation importance of {best.name}"
    )
    return report


@dataclass(frozen=True, slots=True)
class CandidateInsights:
    errors: Errors
    cost: Cost | None
    importance: ImportanceReport

    @property
    def prediction_shift(self) -> float:
        """What the served value adds to the model's (regression cost); 0 for every other model."""
        return self.cost.shift if isinstance(self.cost, RegressionCostReport) else 0.0

    def gate_checks(self, config: Config) -> tuple[Check, ...]:
        ceiling = config.gate.max_expected_cost
        if ceiling is None or self.cost is None:
            return ()
        if isinstance(self.cost, CostReport):
            return (cost_check(self.cost, ceiling),)
        how = "served value shifted" if isinstance(self.cost, RegressionCostReport) else "least-cost class"
        return (task_cost_check(self.cost.holdout_cost, ceiling, self.cost.unit, how),)

    def gate_appendix(self, run_id: str) -> str:
        """What the gate report links to: the error analysis and the costliest rows."""
        lines = [
            "### Error analysis",
            "",
            f"Per class and slice: `{ERRORS_MD}`; the {len(self.errors.top_losses)} highest-loss holdout rows: "
            f"`{TOP_LOSSES}` (MLflow run `{run_id}`).",
        ]
        worst = self.errors.worst(3) if isinstance(self.errors, ErrorAnalysis) else ()
        if worst:
            lines.append(
                "Worst slices: "
                + "; ".join(
                    f"{s.column}={s.value} {s.metric.name} {s.metric.value:.4f} [{s.metric.low:.4f}, {s.metric.high:.4f}]"
                    for s in worst
                    if s.metric is not None
                )
                + "."
            )
        if isinstance(self.errors, ErrorAnalysis) and self.cost is None and (why := self.errors.no_positive_decided()):
            lines.append(f"**No positive decided**: {why}.")
        if isinstance(self.cost, CostReport):
            lines.append(
                f"Expected cost {self.cost.holdout_cost:.4f} {self.cost.unit}/row at threshold "
                f"{self.cost.threshold:.3f} chosen on validation (`cost/report.md`)."
            )
        elif self.cost is not None:
            lines.append(f"Expected cost {self.cost.holdout_cost:.4f} {self.cost.unit}/row (`cost/report.md`).")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class PendingInsights:
    """The insight tasks of the chosen candidate, submitted to the flow's thread pool: they run
    beside the holdout evaluation (each mostly single-threaded numpy and MLflow writes)."""

    errors: Any
    importance: Any

    def result(self, cost: Cost | None) -> CandidateInsights:
        return CandidateInsights(self.errors.result(), cost, self.importance.result())


def submit_insights(best: TrainedModel, holdout: pd.DataFrame, config: Config, run_id: str) -> PendingInsights:
    """Error analysis and permutation importance of the chosen candidate, started now."""
    return PendingInsights(
        error_analysis_task.submit(best, holdout, config, run_id),
        importance_task.submit(best, holdout, config, run_id),
    )


def candidate_insights(
    best: TrainedModel, train: pd.DataFrame, holdout: pd.DataFrame, config: Config, run_id: str
) -> CandidateInsights:
    """Error analysis, business cost and permutation importance of the chosen candidate (after the
    holdout evaluation: the cost report quotes its primary metric)."""
    pending = submit_insights(best, holdout, config, run_id)
    return pending.result(cost_task(best, train, holdout, config, run_id))


@task(name="tag-version-insights", cache_policy=NO_CACHE, **IO_RETRIES)
def tag_version_task(registry: Registry, version: str | None, insights: CandidateInsights, run_id: str) -> None:
    """The model version carries its importance (top features; the run's JSON has all) and cost figures."""
    if version is None:
        return
    top = {f.feature: round(f.mean, 5) for f in insights.importance.features[:TOP_TAGGED]}
    while len(json.dumps(top)) > 4000:  # fewer features rather than a cut (invalid) JSON
        top.popitem()
    registry.set_tag(version, Tag.IMPORTANCE, json.dumps(top))
    registry.set_tag(version, Tag.IMPORTANCE_ARTIFACT, f"runs:/{run_id}/{IMPORTANCE_JSON}")
    if isinstance(insights.cost, RegressionCostReport):
        registry.set_tag(version, Tag.PREDICTION_SHIFT, f"{insights.cost.shift:.6f}")
    if insights.cost is not None:
        registry.set_tag(version, Tag.EXPECTED_COST, f"{insights.cost.holdout_cost:.6f} {insights.cost.unit}/row")
    if isinstance(insights.cost, CostReport):
        registry.set_tag(version, Tag.DECISION_THRESHOLD, f"{insights.cost.threshold:.6f}")
