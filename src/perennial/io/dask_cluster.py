"""The Dask cluster's command lines: one scheduler and its workers, as docker compose runs them.

``docker-compose.yml``'s ``dask-scheduler`` and ``dask-worker-*`` services, ``perennial up --dask`` and
the slow tier (tests/slow/test_dask_cluster.py) all run ``dask`` with these arguments; a unit test
holds the compose file to them. Off compose, every process binds the host it is given (loopback
unless told) and the workers' own ports too (``LOOPBACK_WORKER``).
"""

from __future__ import annotations

SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
WORKERS = ("dask-worker-1", "dask-worker-2")
WORKER_MEMORY = "2GiB"


def scheduler_args(host: str, port: int = SCHEDULER_PORT, dashboard_port: int = DASHBOARD_PORT) -> list[str]:
    """``dask scheduler``'s arguments: the scheduler and its dashboard on ``host``."""
    return ["scheduler", "--host", host, "--port", str(port), "--dashboard-address", f"{host}:{dashboard_port}"]


def worker_args(scheduler: str, name: str, memory_limit: str = WORKER_MEMORY) -> list[str]:
    """``dask worker``'s arguments: one process of one thread, its memory capped, named ``name``."""
    return ["worker", scheduler, "--name", name, "--nworkers", "1", "--nthreads", "1", "--memory-limit", memory_limit]


def loopback_worker(host: str) -> list[str]:
    """Off compose, a worker's own ports (its comm, nanny and dashboard) bind ``host`` too."""
    return ["--host", host, "--dashboard-address", f"{host}:0"]


def dashboard_url(host: str, dashboard_port: int = DASHBOARD_PORT) -> str:
    return f"http://{host}:{dashboard_port}/status"
