"""Benchmark: candidate training on the Dask task runner vs the flow's default threads.

    .venv/bin/python -m bench.dask_training            # demo data and candidates, 3 repeats per runner
    .venv/bin/python -m bench.dask_training --quick    # 20,000 rows, one repeat, standing clusters only

The candidate stage of the training flow, as the flow runs it: every configured candidate
(demo config: HistGradientBoosting with a 2-point search on 2 time-ordered folds, and a
logistic regression) submitted through ``tasks.runners.candidate_runner``, each a nested
MLflow run with its model logged (MLflow on SQLite in a temporary folder). Runners:

- thread: the default (``training.task_runner.kind: thread``): candidates one after the other in
  the flow's own thread (``tasks.runners.train_candidates`` with no runner);
- dask-local: ``kind: dask`` with no address: a LocalCluster of 2 single-threaded worker
  processes started for the run and shut down after it (what a config switch gives);
- dask-warm: ``kind: dask, address: tcp://…`` of a LocalCluster started once beforehand
  (a standing cluster: no start-up in the timing);
- dask-warm-omp2: the same with ``OMP_NUM_THREADS=2`` in the workers (Dask's nanny sets 1,
  which takes HistGradientBoosting's OpenMP threads away).

Each timing is the wall time from opening the runner to the last candidate's result.
Prints a table and the thread/dask ratios (above 1: Dask is faster).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import pandas as pd  # noqa: E402

from bench._common import load_average, machine, median, parse_args, publish, spread  # noqa: E402
from perennial.config import CandidateRunner, Config, load_config  # noqa: E402
from perennial.settings import apply_defaults, load_settings  # noqa: E402


def _environment() -> None:
    """A throwaway state folder (MLflow, Prefect's ephemeral API) before Prefect is imported."""
    state = Path(tempfile.mkdtemp(prefix="perennial-bench-dask-"))
    os.environ["PERENNIAL_STATE_DIR"] = str(state)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{state / 'mlflow.db'}"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # a loaded 2-core machine
    apply_defaults(load_settings(ROOT))


def training_frame(config: Config) -> pd.DataFrame:
    from perennial.core.data import split_by_time
    from perennial.io.demo_data import ensure_demo_data

    path = ensure_demo_data(load_settings(ROOT).data_dir / "flights.parquet")
    train, _ = split_by_time(pd.read_parquet(path), config)
    return train


def time_candidates(config: Config, train: pd.DataFrame, spec: CandidateRunner) -> float:
    from prefect import flow

    from perennial.io import tracking
    from tasks.runners import candidate_runner, train_candidates
    from tasks.training import train_candidate_task

    @flow(name="bench-candidates")
    def candidates_flow() -> float:
        experiment_id = tracking.ensure_experiment("bench-dask", load_settings(ROOT).artifact_root)
        with tracking.tracked_run(experiment_id, f"bench {spec.kind}", {}) as parent:
            started = time.perf_counter()
            with candidate_runner(spec) as runner:
                shared = {"train": train, "config": config, "experiment_id": experiment_id, "parent_run_id": parent}
                # as the flow does it: on the Dask runner, or one after the other in this thread (runner None)
                train_candidates(runner, train_candidate_task, config.training.candidates, shared)
            elapsed = time.perf_counter() - started
        return elapsed

    return candidates_flow()


def compare(config: Config, train: pd.DataFrame, repeats: int, quick: bool) -> dict[str, list[float]]:
    from distributed import Client, LocalCluster

    times: dict[str, list[float]] = {"thread": [], "dask-local": [], "dask-warm": [], "dask-warm-omp2": []}
    if quick:  # a run-long cluster start is the slow part: the quick run keeps the standing ones
        del times["dask-local"]
    local = CandidateRunner(kind="dask", n_workers=2, threads_per_worker=1)
    cluster_args: dict[str, Any] = {
        "n_workers": 2,
        "threads_per_worker": 1,
        "host": "127.0.0.1",
        "dashboard_address": ":0",
    }
    # Dask's nanny starts workers with OMP_NUM_THREADS=1; the omp2 cluster gives HGB its 2 OpenMP threads back
    with LocalCluster(**cluster_args) as cluster, LocalCluster(**cluster_args, env={"OMP_NUM_THREADS": "2"}) as omp2:
        runners = (
            ("thread", CandidateRunner()),
            ("dask-local", local),
            ("dask-warm", CandidateRunner(kind="dask", address=cluster.scheduler_address)),
            ("dask-warm-omp2", CandidateRunner(kind="dask", address=omp2.scheduler_address)),
        )
        for standing in (cluster, omp2):  # a standing cluster has its libraries imported already
            with Client(standing) as client:
                client.run(importlib.import_module, "tasks.training")
        for _ in range(repeats):  # interleaved, so that drift in the machine's load hits every runner alike
            for name, spec in runners:
                if name not in times:
                    continue
                times[name].append(time_candidates(config, train, spec))
                print(f"  {name:<11} {times[name][-1]:6.1f} s", flush=True)
    return times


def report(times: dict[str, list[float]], rows: int, args: argparse.Namespace) -> list[str]:
    thread = median(times["thread"])
    lines = [
        "## Candidate training: Dask runners vs the flow's default",
        "",
        f"`{args.command}` on {dt.date.today().isoformat()}: the training flow's candidate stage ({rows:,} training rows,",
        "each candidate a nested MLflow run with its model logged) on each runner in turn, "
        f"{args.repeats} repeat(s) (1-minute load average {load_average()} at the end).",
        "thread: the default, candidates one after the other in the flow's thread; dask-local: a LocalCluster",
        "of 2 single-threaded workers started for the run; dask-warm: a standing cluster; dask-warm-omp2: the same",
        "with OMP_NUM_THREADS=2 in the workers.",
        "",
        *machine("prefect", "prefect-dask", "distributed", "scikit-learn", "mlflow"),
        "",
        "| runner | s: median (min-max) | default / this (above 1: faster than the default) |",
        "|---|---:|---:|",
    ]
    for name, values in times.items():
        lines.append(f"| {name} | {spread(values, 1)} | {thread / median(values):.2f}x |")
    return lines


def main() -> None:
    args = parse_args(__doc__, "20,000 training rows, one repeat, no per-run cluster")
    args.repeats = 1 if args.quick else 3
    args.command = "python -m bench.dask_training" + (" --quick" if args.quick else "")
    _environment()
    config = load_config(ROOT / "configs" / "flights.yaml")
    train = training_frame(config)
    train = train.tail(20_000 if args.quick else config.training.max_train_rows or len(train))
    times = compare(config, train, args.repeats, args.quick)
    publish("dask_training", report(times, len(train), args), args)


if __name__ == "__main__":
    main()
