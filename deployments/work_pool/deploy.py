"""The work-pool variant of Perennial's deployments: the same flows, run by Prefect workers.

A process pool runs flows from this checkout on the worker's machine; a docker or
kubernetes pool runs them in an image built from ``deployments/work_pool/Dockerfile``
(pass ``--image``). Nothing in the flows changes: the servers, stores and the task
runner come from the environment and the config.

    prefect work-pool create perennial --type process
    prefect worker start --pool perennial          # one per machine that runs flows
    python -m deployments.work_pool.deploy --pool perennial --config configs/flights.yaml
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import Flow, deploy
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.flows import load_flow_from_entrypoint

from perennial.config import load_config
from perennial.core.events import RETRAIN_EVENTS
from perennial.settings import default_config, find_project_root


@dataclass(frozen=True, slots=True)
class Planned:
    """One deployment: which flow, when, and with which parameters."""

    entrypoint: str
    name: str
    cron: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    retrain_trigger: bool = False

    @property
    def served_name(self) -> str:
        """Its name when `python -m deployments.serve` serves it (no pool): the flow's own name."""
        return self.name.removesuffix("-pool")


def planned_deployments(config_path: str) -> list[Planned]:
    """Training monthly (and on a drift or performance event), scoring and monitoring daily."""
    params = {"config_path": config_path}
    return [
        Planned("flows/training.py:training_flow", "training-pool", "0 3 1 * *", params, retrain_trigger=True),
        Planned("flows/batch_scoring.py:batch_scoring_flow", "batch-scoring-pool", "0 2 * * *", params),
        Planned("flows/monitoring.py:monitoring_flow", "monitoring-pool", "0 4 * * *", params),
    ]


def retrain_trigger(dataset: str, config_path: str) -> DeploymentEventTrigger:
    """A retrain per drift or performance event of this dataset, window and reason from its payload."""
    return DeploymentEventTrigger(
        name=f"retrain-{dataset}",
        expect=set(RETRAIN_EVENTS),
        match={"prefect.resource.id": f"perennial.dataset.{dataset}"},
        for_each={"perennial.window"},
        # one run per window however many monitors report it: later events of that window within
        # the hour are dropped (the monitors' own dedupe key covers restarts and later re-runs)
        within=timedelta(hours=1),
        parameters={
            "config_path": config_path,
            "train_end": "{{ event.payload.train_end }}",
            "holdout_end": "{{ event.payload.holdout_end }}",
            # null unless the retry is on the newer windows: one expression renders as JSON, so None stays None
            "train_start": "{{ event.payload.train_start }}",
            "reason": "{{ event.event }}",
        },
    )


def build_deployments(
    root: Path,
    config_path: str,
    image: str | None,
    only: Sequence[str] = (),
    job_variables: dict[str, Any] | None = None,
) -> list[RunnerDeployment]:
    """RunnerDeployments for the flows this checkout has (monitoring may not exist yet)."""
    dataset = load_config(root / config_path).name
    built = []
    for plan in planned_deployments(config_path):
        if not (root / plan.entrypoint.split(":")[0]).is_file() or (only and plan.name not in only):
            continue
        # process pools run the checkout in place; image pools run the code baked into the image
        flow: Flow[..., Any] = (
            load_flow_from_entrypoint(plan.entrypoint) if image else Flow.from_source(str(root), plan.entrypoint)
        )
        built.append(
            flow.to_deployment(
                name=plan.name,
                cron=plan.cron,
                parameters=plan.parameters,
                triggers=[retrain_trigger(dataset, config_path)] if plan.retrain_trigger else None,
                concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
                tags=["perennial", dataset],
                job_variables=job_variables or {},
            )
        )
    return built


def main(argv: Sequence[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", required=True, help="work pool name (process, docker or kubernetes)")
    parser.add_argument("--config", default=default_config(), help="config path, relative to the project root")
    parser.add_argument("--image", help="image with this checkout at its WORKDIR (docker/kubernetes pools)")
    parser.add_argument("--only", nargs="*", default=(), help="deployment names to apply (default: all)")
    parser.add_argument(
        "--job-variables",
        type=json.loads,
        default=None,
        help='JSON for the pool\'s job template, e.g. \'{"env": {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}}\'',
    )
    args = parser.parse_args(argv)
    deployments = build_deployments(find_project_root(), args.config, args.image, args.only, args.job_variables)
    ids = deploy(*deployments, work_pool_name=args.pool, image=args.image, build=False, push=False)
    return [str(i) for i in ids]


if __name__ == "__main__":
    main()
