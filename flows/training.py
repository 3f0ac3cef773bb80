"""The training lifecycle: validate → split → train candidates → evaluate → gate → register.

Run alone:  python -m flows.training --config configs/flights.yaml
"""

# No `from __future__ import annotations` here: Prefect builds each flow's parameter model from its
# annotations, and string annotations (`dt.date`) fail to resolve when a deployment runs the flow.

import datetime as dt
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from flows import DEFAULT_CONFIG, command_line
from perennial.config import load_config
from perennial.core.data import trained_through
from perennial.core.events import RETRAIN_EVENTS, outcome_event
from perennial.core.lifecycle import TrainingOutcome
from perennial.core.names import Tag
from perennial.core.target import LABELS_TAG
from perennial.io.lineage import git_commit
from perennial.io.registry import TRAINED_THROUGH_TAG, Registry
from perennial.settings import load_settings
from tasks.data import (
    encode_target_task,
    leave_out_refused_task,
    load_data_task,
    reach_back_task,
    split_task,
    usable_features_task,
)
from tasks.episodes import record_trained, refused_recorded
from tasks.evaluation import champion_trained_through_task, evaluate_task, load_champion_task
from tasks.events import emit
from tasks.gate import enforce_gate_task, gate_task
from tasks.insights import cost_task, profile_task, submit_insights, tag_version_task
from tasks.label_free import log_label_free_task
from tasks.monitoring import log_reference_task
from tasks.promotion import register_task
from tasks.runners import candidate_runner, train_candidates
from tasks.runs import log_datasets_task, tracked_flow
from tasks.training import select_candidate_task, train_baseline_task, train_candidate_task
from tasks.validation import earlier_quartiles_task, reference_suite_task, validate_task


def _run_name() -> str:
    params = flow_run.parameters
    window = params.get("holdout_end") or "configured-window"
    return f"train-{params.get('config_path', DEFAULT_CONFIG).rsplit('/', 1)[-1].removesuffix('.yaml')}-{window}"


@flow(name="training", flow_run_name=_run_name, log_prints=True)
def training_flow(
    config_path: str = DEFAULT_CONFIG,
    train_end: dt.date | None = None,
    holdout_end: dt.date | None = None,
    reason: str = "manual",
    train_start: dt.date | None = None,
) -> TrainingOutcome:
    settings = load_settings()
    config = load_config(settings.root / config_path).with_split(train_end, holdout_end, train_start)
    registry = Registry(config.tracking.registered_model)
    with tracked_flow(config, settings, f"train {config.split.label}", "training", reason) as (experiment_id, run_id):
        frame, source = load_data_task(config, settings.root)
        frame = leave_out_refused_task(frame, config, settings.ledger_url, run_id)  # never learn from bad data
        frame, labels = encode_target_task(frame, config, source)
        suite = reference_suite_task(config, registry, frame, run_id)
        asked_by_loop = holdout_end if reason in RETRAIN_EVENTS else None  # a drift episode learns the ending
        earlier = earlier_quartiles_task(config, settings.ledger_url)  # a target monitoring saw grow
        with refused_recorded(settings.ledger_url, config.name, asked_by_loop):
            validate_task(frame, suite, config, source, run_id, earlier)
        config, span_note = reach_back_task(frame, config, run_id)  # a short holdout takes earlier rows
        train, holdout = split_task(frame, config)
        config = usable_features_task(train, config, run_id)  # all-null or constant columns: a warning, not a crash
        # recorded while the candidates train: nothing below reads it before registration
        prints_pending = log_datasets_task.submit(train, holdout, config, source, run_id)
        # candidates train on the configured runner: in the flow's thread, or in parallel on a Dask cluster
        with candidate_runner(config.training.task_runner) as runner:
            shared = {"train": train, "config": config, "experiment_id": experiment_id, "parent_run_id": run_id}
            results = train_candidates(runner, train_candidate_task, config.training.candidates, shared)
            baseline = train_baseline_task(train, config)
            best, best_run_id, model_uri = select_candidate_task(results, run_id)
        # independent records of the chosen candidate run beside its evaluation, on the flow's threads
        background: list[PrefectFuture[Any]] = [
            log_reference_task.submit(best.model, train, config, run_id),  # what monitoring compares windows with
            profile_task.submit(train, config, registry, run_id),  # and its diff against the champion's training data
        ]
        pending = submit_insights(best, holdout, config, run_id)
        champion = load_champion_task(registry)
        comparison = evaluate_task(
            (f"candidate:{best.name}", best.model),
            baseline.model,
            champion,
            holdout,
            config,
            run_id,
            champion_trained_through_task(config),
            span_note,
        )
        insights = pending.result(cost_task(best, train, holdout, config, run_id))
        # what estimates a window before its labels arrive, fitted on the holdout's served predictions
        background.append(log_label_free_task.submit(best.model, holdout, config, insights.prediction_shift, run_id))
        prints = prints_pending.result()
        for future in background:
            future.result()  # a failed record fails the run before anything is registered
        report = gate_task(
            comparison, config, run_id, insights.gate_checks(config), insights.gate_appendix(run_id), reason
        )
        lineage = {
            Tag.DATA_FINGERPRINT: prints["train"],
            Tag.HOLDOUT_FINGERPRINT: prints["holdout"],
            Tag.GIT_COMMIT: git_commit(settings.root),
            # a hash split has no time to train through: its rows keep their sides by key instead
            **({TRAINED_THROUGH_TAG: trained_through(train, config)} if config.data.time_column else {}),
            Tag.SPLIT: config.split.model_dump_json(),
            # serving and monitoring answer in the user's labels
            **({LABELS_TAG: labels.to_json()} if labels is not None else {}),
        }
        outcome = register_task(model_uri, best_run_id, report, config, registry, settings, run_id, lineage)
        tag_version_task(registry, outcome.version, insights, run_id)
        print(outcome.headline)
        event = outcome_event(outcome, config.name, config.split.label, champion[0] if champion else None)
        emit(event)
        record_trained(settings.ledger_url, config.name, asked_by_loop, outcome)
        enforce_gate_task(report, config)
    return outcome


if __name__ == "__main__":
    args = command_line(__doc__, "--train-end", "--holdout-end").parse_args()
    training_flow(args.config, args.train_end, args.holdout_end)
