"""The served deployments and their retrain trigger, applied to the Prefect test harness.

Ten drift events for one window (ten monitors, a burst of re-runs) make one training run; another
window makes its own; each run carries the event's window as its parameters. Runs are created by
the server's automation and left scheduled: executing them is the serve process's job.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from deployments.serve import delete_automations, served_deployments
from perennial.core.events import DriftDetected
from tasks.events import emit

ROOT = Path(__file__).resolve().parents[2]


def _event(window: str, start: str, end: str, train_start: str | None = None) -> DriftDetected:
    return DriftDetected(
        dataset="tiny",
        window=window,
        drift_share=0.6,
        drifted_columns=("temp",),
        prediction_drift=True,
        train_end=start,
        holdout_end=end,
        train_start=train_start,
    )


def _runs(deployment_id: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def test_the_plan_serves_training_on_a_cron_and_a_trigger_and_scoring_and_monitoring_daily(project: Any) -> None:
    config = project.write_config()
    deployments = {d.name: d for d in served_deployments(ROOT, config)}
    assert set(deployments) == {"training", "batch-scoring", "monitoring"}
    assert all(d.parameters == {"config_path": config} for d in deployments.values())
    assert all(d.concurrency_limit == 1 for d in deployments.values())
    (trigger,) = deployments["training"].triggers
    assert trigger.expect == {"perennial.drift.detected", "perennial.performance.degraded"}
    assert trigger.within == dt.timedelta(hours=1) and trigger.for_each == {"perennial.window"}
    assert not deployments["monitoring"].triggers and not deployments["batch-scoring"].triggers


def test_ten_drift_events_of_one_window_make_one_training_run_with_that_window(project: Any) -> None:
    # given the training deployment and its retrain trigger on the server
    config = project.write_config()
    training = next(d for d in served_deployments(ROOT, config) if d.name == "training")
    deployment_id = training.apply()
    try:
        time.sleep(1.0)  # the automation is loaded by the trigger service
        # when ten monitors report drift in July within seconds, and one reports August
        for _ in range(10):
            emit(_event("2013-07", "2013-07-01", "2013-08-01"))
        emit(_event("2013-08", "2013-08-01", "2013-09-01", train_start="2013-07-01"))  # a retry on the newer windows
        # then exactly one training run per window is created, with the window as its split
        deadline = time.monotonic() + 20
        while len(runs := _runs(deployment_id)) < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(2.0)  # any extra run would have arrived by now
        runs = _runs(deployment_id)
        windows = sorted((r.parameters["train_end"], r.parameters["holdout_end"]) for r in runs)
        assert windows == [("2013-07-01", "2013-08-01"), ("2013-08-01", "2013-09-01")]
        # and a retry's first day arrives as such, an ordinary retrain's as null (from the first row)
        starts = {r.parameters["holdout_end"]: r.parameters["train_start"] for r in runs}
        assert starts == {"2013-08-01": None, "2013-09-01": "2013-07-01"}
        assert {r.parameters["reason"] for r in runs} == {"perennial.drift.detected"}
        assert {r.parameters["config_path"] for r in runs} == {config}
    finally:
        # and stopping the service removes its automation
        assert len(delete_automations("tiny")) == 1
    with get_client(sync_client=True) as client:
        assert client.read_automations_by_name("retrain-tiny") == []
