"""The flow's MLflow run: opened with its lineage tags, closed with its verdict."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.data import fingerprint
from perennial.io import tracking
from perennial.io.lineage import git_commit
from perennial.settings import Settings
from tasks.common import IO_RETRIES, flow_run_id

import pandas as pd


@task(name="start-mlflow-run", cache_policy=NO_CACHE, **IO_RETRIES)
def start_run_task(
    config: Config, settings: Settings, run_name: str, kind: str, reason: str, experiment: str | None = None
) -> tuple[str, str]:
    """Open the flow's MLflow run (in the config's experiment unless named); returns (experiment id, run id)."""
    tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(experiment or config.tracking.experiment, settings.artifact_root)
    tags = {
        "perennial.kind": kind,
        "perennial.reason": reason,
        "perennial.config": config.name,
        "perennial.config_hash": config.fingerprint(),
        "perennial.git_commit": git_commit(settings.root),
        "prefect.flow_run_id": flow_run_id(),
    }
    run_id = tracking.start_run(experiment_id, run_name, tags)
    tracking.log_params(run_id, {"split": config.split.model_dump_json(), "gate_mode": config.gate.mode})
    tracking.log_json(run_id, config.to_record(), "config/config.json")  # passwords masked
    return experiment_id, run_id


@task(name="end-mlflow-run", cache_policy=NO_CACHE, **IO_RETRIES)
def end_run_task(run_id: str, failed: bool) -> None:
    tracking.end_run(run_id, failed=failed)


@task(name="log-datasets", cache_policy=NO_CACHE, **IO_RETRIES)
def log_datasets_task(train: pd.DataFrame, holdout: pd.DataFrame, config: Config, source: str, run_id: str) -> dict[str, str]:
    """Training and holdout frames as MLflow datasets, each with a full-content fingerprint."""
    prints = {"train": fingerprint(train), "holdout": fingerprint(holdout)}
    for name, frame in (("train", train), ("holdout", holdout)):
        context = "training" if name == "train" else "evaluation"
        tracking.log_dataset(run_id, frame, f"{config.name}-{name}", source, context, prints[name], config.data.target)
    tracking.log_params(run_id, {"rows_train": len(train), "rows_holdout": len(holdout)})
    tracking.set_tags(run_id, {"perennial.data_fingerprint": prints["train"], "perennial.holdout_fingerprint": prints["holdout"]})
    return prints
