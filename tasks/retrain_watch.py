"""Follow the retrain a monitoring event asked for: the training run the deployment trigger created."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterExpectedStartTime
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort

from perennial.config import Config
from perennial.core.names import Tag
from perennial.errors import PerennialError
from perennial.io import tracking
from perennial.io.registry import CHAMPION, Registry


class RetrainNotSeen(PerennialError):
    """The trigger made no training run in time (is `perennial up` running its deployments?)."""


def _triggered(since: dt.datetime, holdout_end: str) -> FlowRun | None:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["training"])),
            # Prefect types the field as its DateTime (pendulum's on Python < 3.13); pydantic converts a datetime
            flow_run_filter=FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime(after_=since)),  # type: ignore[arg-type]
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=50,
        )
    # the trigger templates the event's payload into the run's parameters (strings)
    return next((r for r in runs if str(r.parameters.get("holdout_end")) == holdout_end and r.deployment_id), None)


@task(name="wait-for-retrain", cache_policy=NO_CACHE)
def wait_for_retrain_task(
    config: Config, registry: Registry, since: dt.datetime, holdout_end: str, timeout_s: float
) -> dict[str, Any]:
    """The triggered training run once finished: its name, state, gate verdict and the champion after it."""
    deadline = time.monotonic() + timeout_s
    run = None
    while time.monotonic() < deadline:
        run = _triggered(since, holdout_end)
        if run is not None and run.state is not None and run.state.is_final():
            break
        time.sleep(2.0)
    if run is None:
        raise RetrainNotSeen(
            f"no training run was triggered for holdout_end={holdout_end} within {timeout_s:.0f} s: "
            "start the deployments with `perennial up` (or use --inline)"
        )
    if run.state is None or not run.state.is_final():
        raise RetrainNotSeen(f"training run {run.name} is still {run.state_name} after {timeout_s:.0f} s")
    return {"run": run.name, "state": run.state_name, **training_verdict(config, registry, str(run.id))}


def training_verdict(config: Config, registry: Registry, flow_run_id: str) -> dict[str, Any]:
    """The gate verdict MLflow recorded for a training flow run, and the champion now."""
    experiment = tracking.client().get_experiment_by_name(config.tracking.experiment)
    found = (
        tracking.client().search_runs(
            [experiment.experiment_id],
            f"tags.`{Tag.PREFECT_FLOW_RUN}` = '{flow_run_id}' and tags.`{Tag.KIND}` = 'training'",
        )
        if experiment
        else []
    )
    gate = found[0].data.tags.get(Tag.GATE, "not reached") if found else "no MLflow run"
    return {"gate": gate, "champion": registry.alias_version(CHAMPION)}
