"""Where work runs: the flow's own threads or process, or a Dask cluster (``training.task_runner``,
``data.engine``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from perennial.config.base import Frozen


class DaskCluster(Frozen):
    """A Dask cluster to run on: an existing one at ``address`` (else at ``PERENNIAL_DASK_ADDRESS``), else a
    LocalCluster started for the run."""

    address: str | None = Field(default=None, description="scheduler of an existing Dask cluster; '' = none")
    n_workers: int | None = Field(default=None, ge=1, description="LocalCluster workers; None = one per core")
    threads_per_worker: int = Field(default=1, ge=1, description="threads of each LocalCluster worker")
    memory_limit: str | None = Field(
        default=None, description="LocalCluster memory per worker, e.g. '2GiB'; None = the machine's share"
    )

    @model_validator(mode="after")
    def _address_form(self) -> DaskCluster:
        # '' comes from `address: ${DASK_ADDRESS:-}`: no cluster given, start a local one
        if self.address and not self.address.startswith(("tcp://", "tls://")):
            raise ValueError(f"address must look like tcp://host:8786, got '{self.address}'")
        if self.address and (self.n_workers or self.memory_limit):
            raise ValueError("n_workers and memory_limit size a local cluster; one at 'address' is sized by its owner")
        return self


class CandidateRunner(DaskCluster):
    """Where candidates (and their searches) train: the flow's own threads, or a Dask cluster.

    ``dask`` with no address (and no ``PERENNIAL_DASK_ADDRESS``) starts a LocalCluster for the run;
    ``address: tcp://host:8786`` joins an existing cluster whose workers have this checkout and its environment.
    """

    kind: Literal["thread", "dask"] = "thread"

    @model_validator(mode="after")
    def _dask_only(self) -> CandidateRunner:
        if self.kind == "thread" and (self.address or self.n_workers or self.memory_limit):
            raise ValueError("address, n_workers and memory_limit apply to kind 'dask' only")
        return self


class DataEngine(DaskCluster):
    """Where batch scoring and monitoring read their window: in one pandas frame, or over Dask partitions.

    ``dask`` opens the source lazily (Parquet file, directory or glob; CSV file or glob), validates the
    window from per-partition aggregates and scores it partition by partition into the prediction
    store's day partitions; monitoring reads the store's partitions lazily for drift, and joins the
    delayed labels on id over partitions; results equal the pandas path's. Its cluster: ``address``, else
    ``PERENNIAL_DASK_ADDRESS``, else a LocalCluster sized here, or no cluster at all with
    ``scheduler: synchronous`` (one partition at a time in the flow's thread: small data, tests).
    """

    kind: Literal["pandas", "dask"] = Field(
        default="pandas", description="pandas: the window in memory; dask: over partitions, out of core"
    )
    scheduler: Literal["cluster", "synchronous"] = Field(
        default="cluster", description="dask only: a cluster (address or local), or synchronous in the flow's thread"
    )

    @model_validator(mode="after")
    def _dask_only(self) -> DataEngine:
        if self.kind == "pandas" and (self.address or self.n_workers or self.memory_limit):
            raise ValueError("address, n_workers and memory_limit apply to kind 'dask' only")
        if self.scheduler == "synchronous" and (self.address or self.n_workers or self.memory_limit):
            raise ValueError("scheduler 'synchronous' runs no cluster: drop address, n_workers and memory_limit")
        return self
