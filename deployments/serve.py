"""Perennial's deployments served from this checkout by one process (`flow.serve`): no work pool needed.

    python -m deployments.serve --config configs/flights.yaml

Training monthly and on a drift or performance event (the retrain trigger), batch scoring and
monitoring daily, each with the config's path as its parameter and a concurrency limit of one.
`perennial up` starts this process beside the Prefect and MLflow servers. On SIGTERM or Ctrl-C
the automations it created are deleted: a stopped serve process would otherwise leave its
trigger firing into deployments that nobody runs.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from prefect import serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint

from deployments.work_pool.deploy import planned_deployments, retrain_trigger
from perennial.config import load_config
from perennial.settings import default_config, find_project_root


def served_deployments(root: Path, config_path: str) -> list[RunnerDeployment]:
    """The planned deployments, as runner deployments of the flows in this checkout."""
    dataset = load_config(root / config_path).name
    built = []
    for plan in planned_deployments(config_path):
        if not (root / plan.entrypoint.split(":")[0]).is_file():
            continue
        flow = load_flow_from_entrypoint(str(root / plan.entrypoint))
        built.append(
            flow.to_deployment(
                name=plan.served_name,
                cron=plan.cron,
                parameters=plan.parameters,
                triggers=[retrain_trigger(dataset, config_path)] if plan.retrain_trigger else None,
                concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
                tags=["perennial", dataset],
            )
        )
    return built


def delete_automations(dataset: str) -> list[str]:
    """Remove the retrain automations of ``dataset`` (by the trigger's name)."""
    name = retrain_trigger(dataset, "").name or ""
    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(name)
        for automation in found:
            client.delete_automation(automation.id)
    return [str(a.id) for a in found]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=default_config(), help="config path, relative to the project root")
    args = parser.parse_args(argv)
    root = find_project_root()
    dataset = load_config(root / args.config).name

    def stop(signum: int, frame: FrameType | None) -> Any:
        raise KeyboardInterrupt  # serve() stops its runner on KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        serve(*served_deployments(root, args.config))
    except KeyboardInterrupt:
        pass
    finally:
        removed = delete_automations(dataset)
        print(f"stopped serving; removed {len(removed)} automation(s) of {dataset}", flush=True)


if __name__ == "__main__":
    main()
