"""A window of up to 20 million rows over Dask partitions under a memory cap (issue 18, "Measured").

    .venv/bin/python -m bench.dask_scale                  # 1M (3 runs), 5M and 20M rows (1 run) under 4 GiB
    .venv/bin/python -m bench.dask_scale --quick          # 50k and 100k rows, one run, in memory at 50k only,
                                                          # the model fitted on 20k rows
    .venv/bin/python -m bench.dask_scale --sizes 200000 --labelled 1 --no-write
    .venv/bin/python -m bench.dask_scale --sizes 5000000 --steps join --labelled 1 --no-write   # scoring, then the join

Data: the flights contract and the demo's HistGradientBoosting pipeline come from the January-June rows
(``bench.dask_window.project``). The window is N rows with the demo's schema resampled from the real
July-December flights (seed 0), written part by part as Parquet files of 100,000 rows, so that making it
holds one file's rows at a time: each day keeps its share of the real rows (its flights drawn with
replacement, in time order), so the files are in time order as an export by time would be; ids are fresh
(``b<row>``). Beside it, delayed-label sources keyed on id (id and ``delayed``) holding a seeded share of
the rows' labels each (``--labelled``, default 100% and 10%: every label arrived, as in the demo where the
data source holds them, and labels arriving late). The contract's rows a day are scaled by N over the real
rows, so the volume rule judges the window as it judges the real one.

Each step at each size runs in a fresh process under the cap (bench/_memory_cap.py: a memory cgroup of
the whole process tree, Dask's nannies and workers included). Over partitions the step's process starts
the flows' cluster (``tasks.runners.data_scheduler``: a LocalCluster of 2 workers x 1 thread, or
``--workers`` x ``--threads``; the cap less 1.5 GiB shared by the workers as their Dask memory limit);
its start and the workers' imports are timed apart, not in the step's seconds. Dask's scratch space
(spills, shuffles) is in the benchmark's temporary folder (under $TMPDIR), removed at the end. The steps
are the flows' task code without its recording (MLflow, Prefect artifacts, Evidently's page on a bounded
sample: none of it grows with the window), on the window
[2013-07-01, 2014-01-01):

- scoring: the batch scoring flow: the window opened (``open_window_task`` / ``load_data_task``), its input
  checked against the contract, scored with one ``scored_at``, written into the prediction store by day
  (``write_days`` from each partition / ``replace_days``), the scores' summary computed;
- validation: the monitoring flow's window check (``window_rules``: freshness, volume, no target);
- drift: the monitoring flow's drift of the stored predictions (``window_partitions_task`` /
  ``window_predictions_task``, then the engine's tests on the features and the score);
- join (one per label share): the stored predictions joined on id with the delayed labels
  (``join_partitions_task`` / ``ArrivedLabels.join``), then ``window_performance`` (ROC AUC and its
  bootstrap interval). Over partitions the joined rows come into the step's process whole.

In memory means a pandas frame of the window (validation on the vectorised engine, which the partitioned
path reproduces; the monitoring flow's in-memory check runs Great Expectations, slower). It runs at the
smallest size (the per-row ratio, and the equality checks) and at the largest (for contrast: expected not
to fit; not with --quick). Drift and join read the store the partitioned scoring wrote, on both paths.

Peaks: the cgroup's (``memory.max_usage_in_bytes`` / ``memory.peak``: the tree's resident memory and the
page cache it charged, e.g. the store's files it wrote), and the sum of each process's own peak (VmHWM of
the step's process and of each Dask worker and nanny, each process once: a LocalCluster's nannies live in
the step's process; shared pages count once per process). A step the
kernel kills at the cap, or whose Dask workers are killed at their memory limit, "did not fit": a result,
not a crash of the benchmark. Without a writable memory cgroup (not root: CI) nothing is capped and the
output says "uncapped".

Equality, at the smallest size (the benchmark fails when one does not hold): the two stores hold the same
rows (a content hash of every column, ordered by id); the input check, score summary and window
validation report are equal word for word; the drift verdicts are equal per column; the joined rows (a
content hash) and the performance estimate are equal, for each label share.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # also run as a script

from bench._common import commit, load_average, machine, median, parse_args, publish, spread  # noqa: E402
from bench._memory_cap import GIB, MemoryCap  # noqa: E402

FULL_SIZES = [1_000_000, 5_000_000, 20_000_000]
QUICK_SIZES = [50_000, 100_000]
QUICK_TRAIN_ROWS = 20_000  # --quick: the model fitted on fewer rows (its fit is most of a quick run's set-up)
FILE_ROWS = 100_000
ENGINES = ("dask", "pandas")
DRIVER_RESERVE = 1.5 * GIB  # the step's own process (the scheduler, what comes back) and the nannies


def worker_limit(cap: int, workers: int) -> int:
    """Each Dask worker's memory limit, bytes: the cap less the step's own process (1.5 GiB, or half a cap
    under 3 GiB), shared by the workers."""
    return int((cap - min(DRIVER_RESERVE, cap / 2)) / workers)


START, END = dt.date(2013, 7, 1), dt.date(2014, 1, 1)
SCORED_AT = pd.Timestamp("2014-01-01", tz="UTC")  # one scoring time: the two stores compare whole
RUN_ID, VERSION = "bench", "1"
PER_ROW_GOAL = 1.5  # over partitions vs in memory, time per row, at the smallest size
LINEAR_GOAL = 1.25  # time per row at the largest size vs the smallest, over partitions


# --- data (parent) -------------------------------------------------------------------------------


def prepare(folder: Path, train_rows: int | None = None) -> pd.DataFrame:
    """The model (fitted on ``train_rows``, default the config's), contract and references under ``folder``;
    the July-December rows in time order."""
    from bench.dask_window import project
    from perennial.config import load_config
    from perennial.core.data import model_inputs
    from perennial.core.drift import build_reference
    from perennial.core.monitoring import PREDICTION
    from perennial.core.predict import predict, scalar_prediction
    from perennial.core.target import resolve_labels

    config = load_config(ROOT / "configs" / "flights.yaml")
    train, later = project(folder, train_rows)
    model = pickle.loads((folder / "model.pkl").read_bytes())
    # the champion's drift reference as the training flow logs it (log_reference_task): features and its scores
    features = config.data.features
    scores = scalar_prediction(predict(model, model_inputs(model, train, config), config.task), config.task)
    frame = train.loc[:, [*features.numeric, *features.categorical]].assign(**{PREDICTION: scores})
    stats = build_reference(frame, [*features.numeric, PREDICTION], list(features.categorical))
    (folder / "reference-scores.npz").write_bytes(stats.to_bytes())
    target = config.data.target
    (folder / "labels.json").write_text(resolve_labels(train[target.column], target, "bench").to_json())
    return later.sort_values(config.data.time_column, kind="stable").reset_index(drop=True)


def day_quotas(days: pd.Series, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each day's first row and row count in ``days`` (sorted), and its share of ``rows`` (largest remainders)."""
    _, first, count = np.unique(days.to_numpy(), return_index=True, return_counts=True)
    exact = rows * count / count.sum()
    quota = np.floor(exact).astype(np.int64)
    short = rows - int(quota.sum())
    quota[np.argsort(quota - exact, kind="stable")[:short]] += 1  # largest fractional parts first
    return first, count, quota


def share_tag(share: float) -> str:
    """A label share's name: 1.0 -> "100" (percent)."""
    return f"{share * 100:g}"


def write_window(later: pd.DataFrame, size: Path, rows: int, shares: list[float], seed: int = 0) -> int:
    """N rows resampled day by day from ``later`` into ``size/window`` (one Parquet file per 100k rows,
    written one after the other: one file's rows in memory) and, for each share in ``shares``, the
    labels of that share of them (seeded; a smaller share's rows are among a larger one's) into
    ``size/labels-<percent>``; the number of files."""
    from perennial.config import load_config

    config = load_config(ROOT / "configs" / "flights.yaml")
    id_column, target, time_column = config.data.id_column, config.data.target.column, config.data.time_column
    assert id_column is not None and time_column is not None
    first, count, quota = day_quotas(later[time_column].dt.floor("D"), rows)
    offsets = np.r_[0, np.cumsum(quota)]
    (size / "window").mkdir(parents=True)
    for share in shares:
        (size / f"labels-{share_tag(share)}").mkdir()
    files = 0
    for number, start in enumerate(range(0, rows, FILE_ROWS)):
        end = min(start + FILE_ROWS, rows)
        picked = []
        day = int(np.searchsorted(offsets, start, side="right")) - 1
        while day < len(quota) and offsets[day] < end:
            # a day's draw is made whole (seeded by the day) and cut where the file begins and ends
            drawn = np.sort(np.random.default_rng([seed, day]).integers(0, count[day], quota[day]))
            picked.append(first[day] + drawn[max(start, offsets[day]) - offsets[day] : end - offsets[day]])
            day += 1
        part = later.iloc[np.concatenate(picked)].reset_index(drop=True)
        part[id_column] = [f"b{i}" for i in range(start, end)]
        part.to_parquet(size / "window" / f"part-{number:04}.parquet", index=False)
        draw = np.random.default_rng([seed, 1, number]).random(len(part))
        for share in shares:
            labels = part.loc[draw < share, [id_column, target]]
            labels.to_parquet(size / f"labels-{share_tag(share)}" / f"part-{number:04}.parquet", index=False)
        files += 1
    return files


def write_size(folder: Path, later: pd.DataFrame, rows: int, args: Any, cap: int) -> tuple[Path, int]:
    """One size's window, labels, scaled contract and a config for each engine, under ``folder/N``."""
    import yaml

    from perennial.core.validation import SuiteSpec

    size = folder / str(rows)
    shares = args.labelled
    files = write_window(later, size, rows, shares)
    suite = SuiteSpec.from_dict(json.loads((folder / "suite.json").read_text()))
    scaled = suite.to_dict() | {"reference_rows_per_day": suite.reference_rows_per_day * rows / len(later)}
    (size / "suite.json").write_text(json.dumps(scaled))
    cluster: dict[str, Any] = {"n_workers": args.workers, "threads_per_worker": args.threads}
    cluster["memory_limit"] = f"{worker_limit(cap, args.workers) // 2**20}MiB"
    for engine in ENGINES:
        raw = yaml.safe_load((ROOT / "configs" / "flights.yaml").read_text())
        raw["data"]["source"] = {"kind": "parquet", "path": str(size / "window")}
        raw["data"]["engine"] = {"kind": "pandas"} if engine == "pandas" else {"kind": "dask", **cluster}
        raw["predictions"] = {"kind": "parquet", "path": str(size / "store")}
        raw["monitoring"]["labels"] = {"kind": "parquet", "path": str(size / f"labels-{share_tag(shares[0])}")}
        (size / f"config-{engine}.yaml").write_text(yaml.safe_dump(raw))
    return size, files


# --- a step (its own process, under the cap) -----------------------------------------------------


@dataclass(frozen=True)
class Context:
    root: Path  # the size's folder
    config: Any
    model: Any
    suite: Any
    stats: Any  # drift reference: features and scores
    labels: Any  # the label encoding
    window: Any


def load_context(size: Path, engine: str, labels: str | None = None) -> Context:
    """A step's inputs; ``labels``: the label share the join reads (its folder's percent)."""
    from perennial.config import FileSource, load_config
    from perennial.core.drift import ReferenceStats
    from perennial.core.target import Labels
    from perennial.core.validation import SuiteSpec
    from perennial.core.windows import Window

    config = load_config(size / f"config-{engine}.yaml")
    if labels is not None:
        source = FileSource(kind="parquet", path=str(size / f"labels-{labels}"))
        config = config.model_copy(update={"monitoring": config.monitoring.model_copy(update={"labels": source})})
    return Context(
        size,
        config,
        pickle.loads((size.parent / "model.pkl").read_bytes()),
        SuiteSpec.from_dict(json.loads((size / "suite.json").read_text())),
        ReferenceStats.from_bytes((size.parent / "reference-scores.npz").read_bytes()),
        Labels.from_json((size.parent / "labels.json").read_text(), config.data.target.column),
        Window(START, END, f"{START}..{END}"),
    )


def scoring(ctx: Context, scheduler: Any) -> dict[str, Any]:
    """The batch scoring flow's steps, less its recording (the in-memory store: ``store-pandas``)."""
    from perennial.core.scoring import score_frame
    from perennial.core.validation import validate_frame
    from perennial.core.validation_partitioned import validate_partitioned
    from perennial.io.partitioned import dask_reduce, write_days
    from perennial.io.prediction_store import ParquetPredictionStore, open_store
    from tasks.data import load_data_task
    from tasks.scoring import scoring_summary, with_run_id
    from tasks.scoring_partitions import SUMMARY_COLUMNS, _score, open_window_task

    config, window = ctx.config, ctx.window
    args = (config, config.tracking.registered_model, VERSION, SCORED_AT)
    if scheduler is None:
        frame, name = load_data_task.fn(config, ctx.root, window.start, window.end)
        report = validate_frame(frame, ctx.suite, source=name, require_target=False, engine="vectorised")
        kept = with_run_id(score_frame(ctx.model, frame, *args), RUN_ID)
        days = ParquetPredictionStore(ctx.root / "store-pandas").replace_days("batch", kept)
    else:
        lazy, name = open_window_task.fn(config, ctx.root, window.start, window.end)
        report = validate_partitioned(dask_reduce(lazy, scheduler), ctx.suite, source=name, require_target=False)
        # score_partitions_task's body, with one fixed scored_at
        meta = _score(lazy._meta, ctx.model, *args, RUN_ID)
        scored = lazy.map_partitions(_score, ctx.model, *args, RUN_ID, meta=meta, enforce_metadata=False)
        kept, days = write_days(scored, open_store(config, ctx.root), "batch", SUMMARY_COLUMNS, scheduler)
    summary = scoring_summary(kept, 1.0, config.task)  # what the flow records of the scores (its time aside)
    return {
        "rows": len(kept),
        "days": len(days),
        "passed": report.passed,
        "report": report.to_dict(),
        "summary": {k: v for k, v in summary.items() if "second" not in k and "latency" not in k},
    }


def validation(ctx: Context, scheduler: Any) -> dict[str, Any]:
    """The monitoring flow's check of the window against the contract."""
    from perennial.core.validation import validate_frame
    from perennial.core.validation_partitioned import validate_partitioned
    from perennial.io.partitioned import dask_reduce
    from tasks.data import load_data_task
    from tasks.monitoring_validation import window_rules
    from tasks.scoring_partitions import open_window_task

    config, window = ctx.config, ctx.window
    rules = window_rules(config, window)
    if scheduler is None:
        frame, name = load_data_task.fn(config, ctx.root, window.start, window.end)
        report = validate_frame(frame, ctx.suite, source=name, engine="vectorised", **rules)
    else:
        lazy, name = open_window_task.fn(config, ctx.root, window.start, window.end)
        report = validate_partitioned(dask_reduce(lazy, scheduler), ctx.suite, source=name, **rules)
    return {"rows": report.rows, "passed": report.passed, "report": report.to_dict()}


def drift(ctx: Context, scheduler: Any) -> dict[str, Any]:
    """The monitoring flow's drift of the window's stored predictions (features and score)."""
    from perennial.core.drift import detect_drift
    from perennial.core.drift.partitioned import detect_drift_partitioned
    from perennial.core.monitoring import drift_frame
    from perennial.io.partitioned import dask_reduce
    from tasks.monitoring import window_predictions_task
    from tasks.monitoring_partitions import window_partitions_task

    config, window = ctx.config, ctx.window
    share = config.monitoring.retraining.drift_share
    if scheduler is None:
        report = detect_drift(
            ctx.stats, drift_frame(window_predictions_task.fn(config, ctx.root, window), config), share
        )
    else:
        predictions = window_partitions_task.fn(config, ctx.root, window, scheduler)
        columns = list(drift_frame(predictions.frame._meta, config).columns)
        report = detect_drift_partitioned(
            ctx.stats, dask_reduce(predictions.select(columns)[columns], scheduler), share
        )
    return {
        "rows": report.rows_current,
        "drifted": sum(c.drifted for c in report.columns),
        "drift": [[c.column, c.test, c.statistic, c.drifted] for c in report.columns],
    }


def join(ctx: Context, scheduler: Any) -> dict[str, Any]:
    """The monitoring flow's label join of the stored predictions, and the performance on the joined rows."""
    from perennial.core.monitoring import window_performance
    from tasks.monitoring import read_labels, window_predictions_task
    from tasks.monitoring_partitions import join_partitions_task, window_partitions_task

    config, window = ctx.config, ctx.window
    if scheduler is None:
        predictions = window_predictions_task.fn(config, ctx.root, window)
        joined = read_labels(config, ctx.root).join(predictions, config, ctx.labels)
    else:
        lazy = window_partitions_task.fn(config, ctx.root, window, scheduler)
        joined = join_partitions_task.fn(lazy, config, ctx.root, ctx.labels, scheduler)
    performance = window_performance(joined, config, None)
    return {"rows": len(joined), "performance": asdict(performance) if performance else None, "_joined": joined}


STEP: dict[str, Callable[[Context, Any], dict[str, Any]]] = {
    "scoring": scoring,
    "validation": validation,
    "drift": drift,
    "join": join,
}


def _hwm_mb() -> tuple[int, float]:
    """This process's id and peak resident MB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return os.getpid(), int(line.split()[1]) / 1024
    return os.getpid(), float("nan")


# what a step's tasks import on a worker (the functions Dask sends live there): imported before the clock,
# as the step's own process has imported them (the flow's task modules take ~8 s of CPU: only where needed)
WARM = {
    "scoring": ["sklearn.ensemble", "perennial.core.validation_partitioned", "tasks.scoring_partitions"],
    "validation": ["perennial.core.validation_partitioned", "perennial.io.sources"],
    "drift": ["perennial.io.window_parts", "perennial.core.drift.partitioned", "perennial.core.monitoring_partitioned"],
    "join": ["perennial.io.window_parts", "perennial.core.monitoring_partitioned", "tasks.monitoring_partitions"],
}


def _warm(modules: list[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def run_step(step: str, engine: str, size: str, check: str) -> dict[str, Any]:
    """One step in this process; seconds exclude imports, the cluster's start and the workers' imports."""
    from perennial.core.fingerprint import fingerprint
    from tasks.runners import data_scheduler

    name, _, labels = step.partition("-")  # join-<percent>: the join of that share of labels
    ctx = load_context(Path(size), engine, labels or None)
    for module in ("tasks.data", "tasks.monitoring", "tasks.monitoring_partitions", "tasks.scoring_partitions"):
        __import__(module)  # imported before the clock
    if engine == "pandas":
        started = time.perf_counter()
        out = STEP[name](ctx, None)
        seconds, cluster, peaks = time.perf_counter() - started, None, [_hwm_mb()[1]]
    else:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401

        began = time.perf_counter()
        with data_scheduler(ctx.config.data.engine) as client:
            client.run(_warm, WARM[name])
            cluster = time.perf_counter() - began
            started = time.perf_counter()
            out = STEP[name](ctx, client)
            seconds = time.perf_counter() - started
            # a LocalCluster's nannies live in this process: each process counted once, by its id
            found = [_hwm_mb(), *client.run(_hwm_mb).values(), *client.run(_hwm_mb, nanny=True).values()]
            peaks = list(dict(found).values())
    joined = out.pop("_joined", None)
    if joined is not None and check == "1":  # after the peaks are read
        out["fingerprint"] = fingerprint(joined.reset_index(drop=True))
    return {"seconds": seconds, "cluster_seconds": cluster, "process_peaks_mb": peaks, **out}


# --- the parent: each step in a fresh capped process ---------------------------------------------


@dataclass
class Run:
    """One step's run as the parent saw it."""

    outcome: str  # "ok", "did not fit", "did not finish", "not run"
    detail: str = ""
    wall: float = float("nan")  # the process's whole life
    cgroup_peak_mb: float | None = None
    out: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class Runner:
    """Runs each step in a fresh process, in a memory cgroup of its own when ``capped``; Dask's workers
    spill and shuffle under ``scratch`` (removed with the benchmark's folder, also after a kill)."""

    def __init__(self, cap_bytes: int, capped: bool, timeout: float, scratch: Path) -> None:
        self.cap_bytes, self.capped, self.timeout, self.scratch = cap_bytes, capped, timeout, scratch
        self.count = 0

    def run(self, step: str, engine: str, size: Path, check: bool) -> Run:
        self.count += 1
        command = [sys.executable, "-m", "bench.dask_scale", "_step", step, engine, str(size), "1" if check else "0"]
        env = {k: v for k, v in os.environ.items() if k != "PERENNIAL_DASK_ADDRESS"}  # a cluster inside the cap
        env["DASK_TEMPORARY_DIRECTORY"] = str(self.scratch)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        cap = MemoryCap.create(self.cap_bytes, f"perennial-bench-{os.getpid()}-{self.count}") if self.capped else None
        if self.capped and cap is None:
            raise SystemExit(
                "the memory cgroup could be made at the start but not now: stopping rather than run uncapped"
            )
        started = time.perf_counter()
        try:
            try:
                done = subprocess.run(
                    (cap.launcher() if cap else []) + command,
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                )
            except subprocess.TimeoutExpired:
                return Run("did not finish", f"stopped after {self.timeout:,.0f} s", time.perf_counter() - started)
            wall = time.perf_counter() - started
            peak = cap.peak() if cap else None
            kills = cap.oom_kills() if cap else 0
        finally:
            if cap is not None:
                cap.close()
        peak_mb = peak / 2**20 if peak is not None else None
        if done.returncode == 0:
            return Run("ok", "", wall, peak_mb, json.loads(done.stdout.strip().splitlines()[-1]))
        memory = ("KilledWorker", "exceeded 95% memory budget", "MemoryError")
        if kills or done.returncode == -9 or any(m in done.stderr for m in memory):
            at = f"killed at {peak / GIB:.2f} GiB" if peak is not None else "killed"
            dask = "KilledWorker" in done.stderr or "memory budget" in done.stderr
            why = "the kernel at the cap" if kills else "Dask at a worker's memory limit" if dask else ""
            return Run("did not fit", f"{at}{' by ' + why if why else ''} after {wall:,.0f} s", wall, peak_mb)
        raise SystemExit(f"{step} ({engine}, {size.name} rows) failed:\n{done.stderr[-4000:]}")


def store_fingerprint(path: Path) -> str:
    from perennial.core.fingerprint import fingerprint
    from perennial.io.prediction_store import ParquetPredictionStore

    return fingerprint(ParquetPredictionStore(path).read("batch").sort_values("id", ignore_index=True))


def compare(runs: dict[str, list[Run]], steps: list[str], stores: tuple[str, str] | None, rows: int) -> list[str]:
    """The two paths' first runs of each step at one size: a line for each thing that must be equal,
    starting "- met:" or "- MISSED:"."""

    def first(step: str, engine: str) -> dict[str, Any] | None:
        done = [r.out for r in runs.get(f"{step}/{engine}", []) if r.ok]
        return done[0] if done else None

    def line(same: bool, what: str) -> str:
        return f"- {'met' if same else 'MISSED'}: {what}"

    a, b = first("scoring", "pandas"), first("scoring", "dask")
    lines = [
        line(
            bool(a and b and stores and stores[0] == stores[1] and a["rows"] == b["rows"]),
            f"the same stored predictions on both paths at {rows:,} rows (content hash of every column, ordered by id)",
        ),
        line(
            bool(a and b and a["report"] == b["report"] and a["summary"] == b["summary"]),
            "the same scoring input check (word for word) and score summary on both paths",
        ),
    ]
    a, b = first("validation", "pandas"), first("validation", "dask")
    if "validation" in steps:
        same = bool(a and b and a["report"] == b["report"])
        lines.append(line(same, "the same window validation report on both paths"))
    a, b = first("drift", "pandas"), first("drift", "dask")
    verdicts = bool(a and b and [(c, t, d) for c, t, _, d in a["drift"]] == [(c, t, d) for c, t, _, d in b["drift"]])
    gap = max(abs(x[2] - y[2]) for x, y in zip(a["drift"], b["drift"], strict=True)) if a and b and verdicts else None
    if "drift" in steps:
        lines.append(
            line(
                bool(verdicts and a and b and a["rows"] == b["rows"]),
                f"the same drift verdicts on both paths ({b['drifted'] if b else '?'} columns drifted; largest "
                f"statistic gap {'—' if gap is None else f'{gap:.2g}'})",
            )
        )
    for step in joins(steps):
        a, b = first(step, "pandas"), first(step, "dask")
        same = a and b and a["rows"] == b["rows"] and a["fingerprint"] == b["fingerprint"]
        lines.append(
            line(
                bool(same and a and b and a["performance"] == b["performance"]),
                f"the same joined rows ({format(b['rows'], ',') if b else '?'} labelled, content hash) and performance "
                f"estimate on both paths, {label(step)}",
            )
        )
    return lines


# --- the report ----------------------------------------------------------------------------------


def joins(steps: list[str]) -> list[str]:
    """The join steps, one a label share (join-<percent>)."""
    return [s for s in steps if s.startswith("join-")]


def label(step: str) -> str:
    name, _, share = step.partition("-")
    return f"{name} ({share}% labelled)" if share else name


def _seconds(runs: list[Run]) -> list[float]:
    return [r.out["seconds"] for r in runs if r.ok and r.out]


def _per_row_us(runs: list[Run], rows: int) -> float | None:
    """Median microseconds per row, when every run completed."""
    seconds = _seconds(runs)
    return 1e6 * median(seconds) / rows if seconds and len(seconds) == len(runs) else None


def _mb(values: list[float]) -> str:
    return f"{median(values):,.0f}" if values else "—"


def _row(rows: int, step: str, engine: str, runs: list[Run]) -> str:
    seconds = _seconds(runs)
    fit = [r.out for r in runs if r.ok and r.out]
    cluster = [o["cluster_seconds"] for o in fit if o["cluster_seconds"] is not None]
    cgroup = [r.cgroup_peak_mb for r in runs if r.cgroup_peak_mb is not None]
    summed = [sum(o["process_peaks_mb"]) for o in fit]
    outcome = "; ".join(dict.fromkeys(f"{r.outcome} ({r.detail})" if r.detail else r.outcome for r in runs))
    timing = "— | — | —"
    if seconds:
        timing = f"{spread(seconds)} | {rows / median(seconds):,.0f} | {1e6 * median(seconds) / rows:.1f}"
    return (
        f"| {rows:,} | {label(step)} | {'over partitions' if engine == 'dask' else 'in memory'} | {len(runs)} "
        f"| {timing} | {spread(cluster, 1) if cluster else '—'} | {_mb(cgroup)} | {_mb(summed)} | {outcome} |"
    )


def report(results: dict[int, dict[str, list[Run]]], extra: dict[int, dict[str, Any]], args: Any) -> list[str]:
    sizes, steps = sorted(results), args.steps
    small, large = sizes[0], sizes[-1]
    cap = (
        f"- memory cap: {args.cap_text}"
        if args.capped
        else f"- memory cap: NONE, uncapped ({args.cap_text}): the peaks are the processes' own; nothing here "
        f"shows that a step fits in {args.cap_gb:g} GiB"
    )
    shares = ", ".join(f"{s.partition('-')[2]}%" for s in joins(steps)) or "none"
    lines = [
        f"## A window of up to {large:,} rows over Dask partitions "
        + (f"under a {args.cap_gb:g} GiB memory cap" if args.capped else "(UNCAPPED: no memory cap was applied)"),
        "",
        f"`{args.command}` on {dt.date.today().isoformat()}: N rows with the demo's schema resampled day by day from",
        f"the real July-December flights (seed 0), in time order, into Parquet files of {FILE_ROWS:,} rows; a",
        f"delayed-label source keyed on id holding {shares} of the rows' labels. Each step runs in a fresh process",
        "under the cap. Over partitions: the flows' LocalCluster "
        f"({args.workers} worker(s) x {args.threads} thread(s), Dask memory limit {args.worker_limit} each),",
        "started in the step's process; its start and the workers' imports are shown apart, not in the seconds.",
        "The steps are the flows' task code less its recording (bench/dask_scale.py says which). In memory: the",
        "window in one pandas frame (validation on the vectorised engine). Peak MB cgroup: the tree's resident",
        "memory and the page cache it charged; Σ process peaks: each process's VmHWM added up (the step's, and",
        "each Dask worker's and nanny's), a bound that counts shared pages once per process. Median (min-max)",
        f"of the runs shown ({load_average()} 1-minute load average at the end)."
        + (f" --quick: the model is fitted on {QUICK_TRAIN_ROWS:,} rows." if args.quick else ""),
        "",
        cap,
        *machine("dask", "distributed", "pandas", "pyarrow", "numpy", "scikit-learn", at=args.commit),
        "",
        "| rows | step | path | runs | seconds | rows/s | µs/row | cluster start + imports s | peak MB cgroup "
        "| Σ process peaks MB | outcome |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rows in sizes:
        for step in steps:
            for engine in ENGINES:
                if results[rows].get(f"{step}/{engine}"):
                    lines.append(_row(rows, step, engine, results[rows][f"{step}/{engine}"]))
    ratios: list[float | None] = []
    lines += [
        "",
        f"Over partitions vs in memory at {small:,} rows, time per row (goal: at most {PER_ROW_GOAL}x):",
        "",
        "| step | in memory µs/row | over partitions µs/row | ratio | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for step in steps:
        memory = _per_row_us(results[small].get(f"{step}/pandas", []), small)
        dask = _per_row_us(results[small].get(f"{step}/dask", []), small)
        ratio = dask / memory if memory and dask else None
        ratios.append(ratio)
        lines.append(
            f"| {label(step)} | {'—' if memory is None else f'{memory:.1f}'} | {'—' if dask is None else f'{dask:.1f}'} "
            f"| {'—' if ratio is None else f'{ratio:.2f}x'} "
            f"| {'met' if ratio is not None and ratio <= PER_ROW_GOAL else 'MISSED'} |"
        )
    growth: list[float | None] = []
    lines += [
        "",
        "Growth over partitions, time per row at each size (goal: linear, the largest size's within "
        f"{LINEAR_GOAL}x of the smallest's):",
        "",
        "| step | " + " | ".join(f"µs/row at {r:,}" for r in sizes) + f" | {large:,} vs {small:,} | goal |",
        "|---|" + "---:|" * len(sizes) + "---:|---|",
    ]
    for step in steps:
        per_row = [_per_row_us(results[r].get(f"{step}/dask", []), r) for r in sizes]
        first, last = per_row[0], per_row[-1]
        ratio = last / first if first and last else None
        growth.append(ratio)
        lines.append(
            f"| {label(step)} | "
            + " | ".join("did not complete" if p is None else f"{p:.1f}" for p in per_row)
            + f" | {'—' if ratio is None else f'{ratio:.2f}x'} "
            f"| {'met' if ratio is not None and ratio <= LINEAR_GOAL else 'MISSED'} |"
        )
    partitioned = [r for rows in sizes for k, runs in results[rows].items() if k.endswith("/dask") for r in runs]
    contrast = [
        f"{label(s)} {results[large][f'{s}/pandas'][0].outcome}" for s in steps if f"{s}/pandas" in results[large]
    ]
    passed = {
        name: all(r.out["passed"] for rows in sizes for r in results[rows].get(f"{name}/dask", []) if r.ok and r.out)
        for name in ("scoring", "validation")
    }
    fits = "met" if all(r.ok for r in partitioned) else "MISSED"
    lines += [
        "",
        "- window files: "
        + ", ".join(f"{r:,} rows in {extra[r]['files']} ({extra[r]['made']:.0f} s to make)" for r in sizes),
        f"- the scoring input check {'passed' if passed['scoring'] else 'FAILED'} and the window validation "
        f"{'was not run' if 'validation' not in steps else 'passed' if passed['validation'] else 'FAILED'} at "
        "every size over partitions",
        f"- in memory at {large:,} rows, for contrast: {', '.join(contrast) if contrast else 'not run (--quick)'}",
        f"- {'met' if all(r is not None and r <= PER_ROW_GOAL for r in ratios) else 'MISSED'} (goal): over "
        f"partitions within {PER_ROW_GOAL}x of in memory per row at {small:,} rows, every step",
        f"- {'met' if all(r is not None and r <= LINEAR_GOAL for r in growth) else 'MISSED'} (goal): linear growth "
        f"over partitions from {small:,} to {large:,} rows, every step",
        f"- {fits if args.capped else 'NOT MEASURED (uncapped)'} (goal): every step over partitions completed under "
        f"the {args.cap_gb:g} GiB cap at every size",
        *extra[small]["same"],
    ]
    return lines


def options(parser: Any) -> None:
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="rows of each window (default 1M 5M 20M; --quick 50k 100k)"
    )
    parser.add_argument(
        "--cap-gb",
        type=float,
        default=4.0,
        help="the process tree's memory cap, GiB (default 4; below ~2.5 a Dask worker's limit is under what its "
        "imports take, and its nanny restarts it until --timeout)",
    )
    parser.add_argument(
        "--labelled",
        type=float,
        nargs="+",
        help="shares of the rows whose label arrived, a join each (default 1 0.1; --quick 1)",
    )
    parser.add_argument(
        "--steps",
        nargs="+",
        choices=["scoring", "validation", "drift", "join"],
        help="the steps to run (default all; drift and join read the store scoring writes, so it always runs)",
    )
    parser.add_argument("--workers", type=int, default=2, help="Dask workers of the LocalCluster (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="threads of each Dask worker (default 1)")
    parser.add_argument("--no-cap", action="store_true", help="run uncapped even where a memory cgroup can be made")
    parser.add_argument("--repeats", type=int, default=3, help="runs at sizes up to 1M rows (larger: one)")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds a step may take before it is stopped")


def main() -> None:
    args = parse_args(__doc__, "50k and 100k rows, one run each, in memory at 50k only", options)
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    repeats = 1 if args.quick else args.repeats
    args.labelled = args.labelled or ([1.0] if args.quick else [1.0, 0.1])
    chosen = set(args.steps or STEP) | {"scoring"}
    steps = [s for s in STEP if s in chosen and s != "join"]
    args.steps = steps + [f"join-{share_tag(s)}" for s in args.labelled if "join" in chosen]
    args.command = " ".join(["python -m bench.dask_scale", *(a for a in sys.argv[1:] if a != "--no-write")])
    args.commit = commit()
    cap_bytes = int(args.cap_gb * GIB)
    probe = None if args.no_cap else MemoryCap.create(cap_bytes, f"perennial-bench-{os.getpid()}-probe")
    args.capped = probe is not None
    args.cap_text = probe.describe() if probe else "--no-cap" if args.no_cap else "no writable memory cgroup here"
    if probe is not None:
        probe.close()
    args.worker_limit = f"{worker_limit(cap_bytes, args.workers) / GIB:.2f} GiB"
    print(f"memory cap: {args.cap_text if args.capped else 'NONE (uncapped): ' + args.cap_text}", flush=True)
    results: dict[int, dict[str, list[Run]]] = {}
    extra: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="perennial-bench-dask-scale-") as tmp:
        folder = Path(tmp)
        runner = Runner(cap_bytes, args.capped, args.timeout, folder / "dask-scratch")
        later = prepare(folder, QUICK_TRAIN_ROWS if args.quick else None)
        for rows in reversed(sizes):  # the largest first: whether it fits is known soonest
            began = time.perf_counter()
            size, files = write_size(folder, later, rows, args, cap_bytes)
            extra[rows] = {"files": files, "made": time.perf_counter() - began}
            # in memory: at the smallest size (the ratio, the equality checks) and the largest (for contrast)
            contrast = rows == sizes[-1] and not args.quick
            engines = ENGINES if rows == sizes[0] or contrast else ENGINES[:1]
            runs: dict[str, list[Run]] = {f"{s}/{e}": [] for s in args.steps for e in engines}
            for _ in range(repeats if rows <= 1_000_000 else 1):
                for step in args.steps:
                    for engine in engines:  # in turn, so load on a shared machine hits both alike
                        if step == "scoring":
                            shutil.rmtree(size / ("store" if engine == "dask" else "store-pandas"), ignore_errors=True)
                        if step != "scoring" and step != "validation" and not runs["scoring/dask"][-1].ok:
                            run = Run("not run", "no stored predictions: scoring over partitions did not complete")
                        else:
                            run = runner.run(step, engine, size, check=rows == sizes[0])
                        runs[f"{step}/{engine}"].append(run)
                        seconds = f"{run.out['seconds']:.1f} s" if run.ok and run.out else run.detail
                        print(f"{rows:,} rows, {label(step)}, {engine}: {run.outcome}, {seconds}", flush=True)
            results[rows] = runs
            if rows == sizes[0]:
                stores = None
                if (size / "store-pandas").exists() and (size / "store").exists():
                    stores = (store_fingerprint(size / "store-pandas"), store_fingerprint(size / "store"))
                extra[rows]["same"] = compare(runs, args.steps, stores, rows)
                print("\n".join(extra[rows]["same"]), flush=True)
            shutil.rmtree(size)
    lines = report(results, extra, args)
    publish("dask_scale", lines, args)
    if any(line.startswith("- MISSED:") for line in lines):
        raise SystemExit("the in-memory and partitioned paths disagree (or one did not complete at the smallest size)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_step":
        from bench.dask_scale import run_step as step  # by its module's name: Dask's workers import what it sends

        print(json.dumps(step(*sys.argv[2:6]), default=str))
    else:
        main()
