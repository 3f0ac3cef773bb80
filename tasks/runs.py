"""The flow's MLflow run: opened with its lineage tags, closed with its verdict (io.tracking.tracked_run)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.fingerprint import fingerprint
from perennial.core.names import Tag
from perennial.io import tracking
from perennial.io.lineage import git_commit
from perennial.settings import Settings
from tasks.common import IO_RETRIES, flow_run_id


@task(name="start-mlflow-run", cache_policy=NO_CACHE, **IO_RETRIES)
def experiment_task(settings: Settings, experiment: str) -> str:
    """The experiment's id (created on first use): the flow's first call to the tracking server, retried."""
    tracking.configure(settings)
    return tracking.ensure_experiment(experiment, settings.artifact_root)


@contextmanager
def tracked_flow(
    config: Config,
    settings: Settings,
    run_name: str,
    kind: str,
    reason: str,
    experiment: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, str]]:
    """The flow's MLflow run (in the config's experiment unless named) around the flow's work.

    Yields (experiment id, run id); the run ends FAILED with the exception's reason if the work raises.
    """
    experiment_id = experiment_task(settings, experiment or config.tracking.experiment)
    tags = {
        Tag.KIND: kind,
        Tag.REASON: reason,
        Tag.CONFIG: config.name,
        Tag.CONFIG_HASH: config.fingerprint(),
        Tag.GIT_COMMIT: git_commit(settings.root),
        Tag.PREFECT_FLOW_RUN: flow_run_id(),
        **(extra_tags or {}),
    }
    with tracking.tracked_run(experiment_id, run_name, tags) as run_id:
        tracking.log_params(run_id, {"split": config.split.model_dump_json(), "gate_mode": config.gate.mode})
        tracking.log_json(run_id, config.to_record(), "config/config.json")  # secrets masked
        yield experiment_id, run_id


@task(name="log-datasets", cache_policy=NO_CACHE, **IO_RETRIES)
def log_datasets_task(
    train: pd.DataFrame, holdout: pd.DataFrame, config: Config, source: str, run_id: str
) -> dict[str, str]:
    """Training and holdout frames as MLflow datasets, each with a full-content fingerprint."""
    prints = {"train": fingerprint(train), "holdout": fingerprint(holdout)}
    for name, frame in (("train", train), ("holdout", holdout)):
        context = "training" if name == "train" else "evaluation"
        tracking.log_dataset(
            run_id, frame, f"{config.name}-{name}", source, context, prints[name], config.data.target.column
        )
    tracking.log_params(run_id, {"rows_train": len(train), "rows_holdout": len(holdout)})
    tracking.set_tags(run_id, {Tag.DATA_FINGERPRINT: prints["train"], Tag.HOLDOUT_FINGERPRINT: prints["holdout"]})
    return prints
