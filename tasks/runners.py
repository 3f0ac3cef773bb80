"""The task runner candidate training runs on, chosen by config at run time.

The flow's own ``ThreadPoolTaskRunner`` by default; with ``training.task_runner.kind: dask``
a prefect-dask runner on a LocalCluster for this run, or on an existing cluster at
``address``. Chosen inside the flow (not at decoration) so that a deployment run by any
worker follows the config it is given, with no code change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner

from perennial.config import CandidateRunner


def dask_runner(spec: CandidateRunner) -> TaskRunner[Any]:
    """A prefect-dask runner for the spec (imported here: the default path needs no Dask)."""
    from prefect_dask import DaskTaskRunner

    if spec.address:
        return DaskTaskRunner(address=spec.address)
    # A local cluster of processes, one per core unless sized; the dashboard on a free port
    kwargs: dict[str, Any] = {"threads_per_worker": spec.threads_per_worker, "dashboard_address": ":0"}
    if spec.n_workers:
        kwargs["n_workers"] = spec.n_workers
    return DaskTaskRunner(cluster_kwargs=kwargs)


@contextmanager
def candidate_runner(spec: CandidateRunner) -> Iterator[TaskRunner[Any]]:
    """Yield a started runner to submit candidate tasks to; a Dask one is shut down on exit."""
    if spec.kind == "thread":
        context = FlowRunContext.get()
        if context is None or context.task_runner is None:
            raise RuntimeError("candidate_runner is used inside a flow run")
        yield context.task_runner
        return
    with dask_runner(spec) as runner:
        yield runner
