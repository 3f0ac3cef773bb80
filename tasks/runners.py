"""The task runner candidate training runs on, chosen by config at run time.

By default (``kind: thread``) candidates train one after the other in the flow's own thread, each
fit using every core; with ``training.task_runner.kind: dask``
a prefect-dask runner on an existing cluster at ``address`` or ``PERENNIAL_DASK_ADDRESS``, else
on a LocalCluster for this run. Chosen inside the flow (not at decoration) so that a deployment run by any
worker follows the config it is given, with no code change.

Batch scoring and monitoring over partitions (``data.engine.kind: dask``) compute on a Dask scheduler
sized by the same settings (``data_scheduler``), or on the cluster at ``PERENNIAL_DASK_ADDRESS``; the
run links that cluster's dashboard in its artifacts, and draws Dask's progress on a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from prefect.artifacts import create_link_artifact
from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner

from perennial.config import CandidateRunner, DaskCluster, DataEngine

ADDRESS_VARIABLE = "PERENNIAL_DASK_ADDRESS"


def dask_runner(spec: CandidateRunner) -> TaskRunner[Any]:
    """A prefect-dask runner for the spec (imported here: the default path needs no Dask)."""
    from prefect_dask.task_runners import DaskTaskRunner

    address = cluster_address(spec)
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs=cluster_kwargs(spec))


def cluster_address(spec: DaskCluster) -> str | None:
    """The existing cluster to join: the config's ``address``, else ``PERENNIAL_DASK_ADDRESS``, else none
    (start a local one). Training and the data path read it the same way, so one variable moves both."""
    return spec.address or os.environ.get(ADDRESS_VARIABLE) or None


def cluster_kwargs(spec: DaskCluster) -> dict[str, Any]:
    """LocalCluster arguments: processes, one per core unless sized; the dashboard on a free loopback port."""
    kwargs: dict[str, Any] = {"threads_per_worker": spec.threads_per_worker, "dashboard_address": "127.0.0.1:0"}
    if spec.n_workers:
        kwargs["n_workers"] = spec.n_workers
    if spec.memory_limit:
        kwargs["memory_limit"] = spec.memory_limit
    return kwargs


@contextmanager
def data_scheduler(spec: DataEngine, progress: bool | None = None) -> Iterator[Any]:
    """The scheduler partitioned data is computed on: "synchronous" (no cluster), or a ``distributed.Client``
    of the cluster at ``spec.address`` or ``PERENNIAL_DASK_ADDRESS``, else of a LocalCluster started (and
    closed) here; its dashboard is printed and linked in the flow run's artifacts.

    With ``progress`` (by default: when stdout is a terminal, so logs and CI stay clean) every computation
    draws Dask's progress bar as it runs.
    """
    show = sys.stdout.isatty() if progress is None else progress
    with ExitStack() as stack:
        if spec.scheduler == "synchronous":
            if show:
                from dask.diagnostics.progress import ProgressBar

                stack.enter_context(ProgressBar())  # type: ignore[no-untyped-call]
            yield "synchronous"
            return
        from distributed import Client, LocalCluster

        address = cluster_address(spec)
        if address:
            client = stack.enter_context(Client(address))  # type: ignore[no-untyped-call]
        else:
            cluster = stack.enter_context(LocalCluster(**cluster_kwargs(spec)))  # type: ignore[no-untyped-call]
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        link_dashboard(client)
        yield ProgressScheduler(client) if show else client


DASHBOARD_ARTIFACT = "dask-dashboard"


def link_dashboard(client: Any) -> str | None:
    """Print the Dask dashboard's address and, in a flow run, add it to the run's artifacts; the link.

    The address is the scheduler's as this process reaches it, or ``distributed.dashboard.link``
    (``DASK_DISTRIBUTED__DASHBOARD__LINK``) where the browser sees it elsewhere (docker compose).
    """
    link: str | None = client.dashboard_link
    if not link:
        return None
    print(f"Dask dashboard: {link}")
    if FlowRunContext.get() is not None:
        create_link_artifact(
            link, "Dask dashboard", key=DASHBOARD_ARTIFACT, description="The Dask cluster this run's partitions ran on"
        )
    return link


@dataclass(frozen=True, slots=True)
class ProgressScheduler:
    """A Dask scheduler (a ``get`` function) computing on ``client`` while drawing its progress bar;
    ``io.partitioned.gather_frame`` streams from its ``client``, drawing a bar of its own."""

    client: Any

    def __call__(self, graph: Any, keys: Any, **kwargs: Any) -> Any:
        from distributed import progress

        futures = self.client.get(graph, keys, sync=False, **kwargs)
        # on a terminal this returns once every key is done (or one failed); gather raises the failure
        progress(futures, notebook=False, multi=False)  # type: ignore[no-untyped-call]
        return self.client.gather(futures)


@contextmanager
def candidate_runner(spec: CandidateRunner) -> Iterator[TaskRunner[Any] | None]:
    """Yield a started runner to submit candidate tasks to (a Dask one is shut down on exit), or None:
    run them in the flow's thread."""
    if spec.kind == "thread":
        if FlowRunContext.get() is None:
            raise RuntimeError("candidate_runner is used inside a flow run")
        yield None  # in the flow's own thread, one after the other (see train_candidates)
        return
    with dask_runner(spec) as runner:
        yield runner


def train_candidates(runner: TaskRunner[Any] | None, task: Any, candidates: Any, shared: dict[str, Any]) -> list[Any]:
    """Each candidate's task result: submitted to the runner, or called in this thread, one after
    the other (every fit already uses all cores: there is nothing for a thread pool to add)."""
    if runner is None:
        return [task(candidate=c, **shared) for c in candidates]
    return [f.result() for f in [runner.submit(task, {"candidate": c, **shared}) for c in candidates]]
