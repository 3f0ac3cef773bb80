"""The work-pool deployments load from this checkout and their trigger parameters exist on the flows."""

from __future__ import annotations

import inspect

from prefect.flows import load_flow_from_entrypoint

from deployments.work_pool.deploy import build_deployments, planned_deployments
from perennial.settings import find_project_root


def test_every_work_pool_deployment_loads_with_parameters_its_flow_accepts() -> None:
    # given the checkout / when the process-pool deployments are built from the shipped config
    root = find_project_root()
    built = {d.name: d for d in build_deployments(root, "configs/flights.yaml", image=None)}
    # then every planned flow that exists here is deployed, run in place from the checkout
    present = [p for p in planned_deployments("configs/flights.yaml") if (root / p.entrypoint.split(":")[0]).is_file()]
    assert set(built) == {p.name for p in present} and "training-pool" in built
    for plan in present:
        deployment = built[plan.name]
        assert deployment.entrypoint == plan.entrypoint and deployment.storage is not None
        accepted = set(inspect.signature(load_flow_from_entrypoint(plan.entrypoint).fn).parameters)
        assert set(deployment.parameters) <= accepted, plan.name
        for trigger in deployment.triggers:
            assert set(trigger.parameters or {}) <= accepted, plan.name
    # and training is retrained by drift or performance events of this dataset, one window at a time
    (trigger,) = built["training-pool"].triggers
    assert trigger.expect == {"perennial.drift.detected", "perennial.performance.degraded"}
    assert trigger.for_each == {"perennial.window"}
    assert trigger.parameters["train_end"] == "{{ event.payload.train_end }}"


def test_an_image_pool_runs_the_code_baked_into_the_image() -> None:
    # given an image build (docker or kubernetes pool) / then no local storage: the entrypoint is relative to WORKDIR
    built = build_deployments(
        find_project_root(), "configs/flights.yaml", image="perennial:dev", only=["training-pool"]
    )
    assert [d.name for d in built] == ["training-pool"] and built[0].storage is None
    assert built[0].entrypoint == "flows/training.py:training_flow"
