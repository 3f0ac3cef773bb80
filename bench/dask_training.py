"""Benchmark: candidate training on the Dask task runner vs the flow's default threads.

    .venv/bin/python -m bench.dask_training               # demo data and candidates, 2 repeats per runner
    .venv/bin/python -m bench.dask_training --scaling     # plus the per-step rates docs/scaling.md rests on

The candidate stage of the training flow, as the flow runs it: every configured candidate
(demo config: HistGradientBoosting with a 2-point search on 2 time-ordered folds, and a
logistic regression) submitted through ``tasks.runners.candidate_runner``, each a nested
MLflow run with its model logged (MLflow on SQLite in a temporary folder). Runners:

- thread: the flow's ThreadPoolTaskRunner (the default, ``training.task_runner.kind: thread``);
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
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import pandas as pd  # noqa: E402

from perennial.config import CandidateRunner, Config, load_config  # noqa: E402
from perennial.settings import apply_defaults, load_settings  # noqa: E402


def _environment() -> None:
    """A throwaway state folder (MLflow, Prefect's ephemeral API) before Prefect is imported."""
    state = Path(tempfile.mkdtemp(prefix="perennial-bench-dask-"))
    os.environ["PERENNIAL_STATE_DIR"] = str(state)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{state / 'mlflow.db'}"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
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
    from tasks.runners import candidate_runner
    from tasks.training import train_candidate_task

    @flow(name="bench-candidates")
    def candidates_flow() -> float:
        experiment_id = tracking.ensure_experiment("bench-dask", load_settings(ROOT).artifact_root)
        parent = tracking.start_run(experiment_id, f"bench {spec.kind}", {})
        started = time.perf_counter()
        with candidate_runner(spec) as runner:
            shared = {"train": train, "config": config, "experiment_id": experiment_id, "parent_run_id": parent}
            futures = [runner.submit(train_candidate_task, {"candidate": c, **shared}) for c in config.training.candidates]
            [f.result() for f in futures]
        elapsed = time.perf_counter() - started
        tracking.end_run(parent)
        return elapsed

    return candidates_flow()


def compare(config: Config, train: pd.DataFrame, repeats: int) -> dict[str, list[float]]:
    from distributed import Client, LocalCluster

    times: dict[str, list[float]] = {"thread": [], "dask-local": [], "dask-warm": [], "dask-warm-omp2": []}
    local = CandidateRunner(kind="dask", n_workers=2, threads_per_worker=1)
    cluster_args: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 1, "host": "127.0.0.1", "dashboard_address": ":0"}
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
                times[name].append(time_candidates(config, train, spec))
                print(f"  {name:<11} {times[name][-1]:6.1f} s", flush=True)
    return times


def scaling_rates(config: Config, train: pd.DataFrame) -> list[tuple[str, str]]:
    """Single-process rates of the daily steps on this machine (2 cores), per million rows."""
    from perennial.core.data import features_of, labels_of
    from perennial.core.scoring import score_frame
    from perennial.core.training import build_model
    from perennial.core.validation import derive_suite, validate_frame

    rows: list[tuple[str, str]] = []
    hgb = next(c for c in config.training.candidates if c.family == "hist_gradient_boosting")
    big = pd.concat([train] * (1_000_000 // len(train) + 1), ignore_index=True).head(1_000_000)
    model = None
    for n in (100_000, len(train), 1_000_000):
        part = big.head(n)
        started = time.perf_counter()
        model = build_model(hgb, config.data.features, config.training.seed).fit(features_of(part, config), labels_of(part, config))
        seconds = time.perf_counter() - started
        rows.append((f"fit HGB (demo params, no search) on {n:,} rows", f"{seconds:.1f} s = {seconds / n * 1e6:.0f} s per 1M rows"))
    suite = derive_suite(config, train)
    for n in (len(train), 1_000_000):
        started = time.perf_counter()
        validate_frame(big.head(n), suite, source="bench")
        seconds = time.perf_counter() - started
        rows.append((f"validate {n:,} rows (GX suite)", f"{seconds:.1f} s = {seconds / n * 1e6:.0f} s per 1M rows"))
    started = time.perf_counter()
    score_frame(model, big, config, "bench", "1")
    seconds = time.perf_counter() - started
    rows.append(("score 1,000,000 rows (HGB pipeline, one process)", f"{seconds:.1f} s per 1M rows"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/flights.yaml")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument("--scaling", action="store_true", help="also time fit, validation and scoring per 1M rows")
    args = parser.parse_args()
    _environment()
    config = load_config(ROOT / args.config)
    train = training_frame(config)
    if config.training.max_train_rows:
        train = train.tail(config.training.max_train_rows)
    cpus = len(os.sched_getaffinity(0))
    print(f"candidate stage: {len(config.training.candidates)} candidates, {len(train):,} training rows, {cpus} cores")
    times = compare(config, train, 1 if args.quick else args.repeats)
    median = {name: statistics.median(values) for name, values in times.items()}
    print("\n| runner | median s | runs s |\n|---|---:|---|")
    for name, values in times.items():
        print(f"| {name} | {median[name]:.1f} | {', '.join(f'{v:.1f}' for v in values)} |")
    print(f"\nthread / dask-local = {median['thread'] / median['dask-local']:.2f}x")
    print(f"thread / dask-warm  = {median['thread'] / median['dask-warm']:.2f}x")
    print(f"thread / dask-warm-omp2 = {median['thread'] / median['dask-warm-omp2']:.2f}x")
    if args.scaling:
        print("\n| step (one process, this machine) | measured |\n|---|---|")
        for step, measured in scaling_rates(config, train):
            print(f"| {step} | {measured} |")


if __name__ == "__main__":
    main()
