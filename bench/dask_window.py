"""A partitioned window: drift and validation, and batch scoring, in memory (pandas) vs over partitions
(Dask), same reports and the same stored predictions.

    .venv/bin/python -m bench.dask_window           # 250k and 1M rows, median of 3
    .venv/bin/python -m bench.dask_window --quick   # 100k rows, one repeat

The reference and contract come from the demo's January-June rows (configs/flights.yaml); the window is
N July-December rows resampled with replacement (seed 0, fresh ids), written as Parquet files of 100k rows.
Each run is a fresh worker process that reads the window and runs drift and validation:

- ``pandas``: ``read_source`` (the whole directory in one frame), ``detect_drift``, ``validate_frame``
  (vectorised engine);
- ``dask``: ``open_lazy`` (a Dask DataFrame, a partition a file), ``dask_reduce`` on the synchronous
  scheduler (one partition in memory at a time), ``check_window_partitioned`` (validation and drift
  summarised in one read; exact quartiles for the unit-shift rule read the numeric columns twice more).

Batch scoring, each run a fresh worker process too, with the demo's HistGradientBoosting pipeline fitted on
the January-June rows:

- ``pandas``: ``read_source``, ``score_frame``, the prediction store's ``replace_days``;
- ``dask``: ``open_lazy``, ``map_partitions(score_frame)`` (meta: an empty frame scored),
  ``io.partitioned.write_days`` on the synchronous scheduler (each partition written into the store's
  staging by day, then each day installed), as ``data.engine.kind: dask`` scores in the batch flow.

The two stores must hold the same rows (a content hash of every column, rows ordered by id, one ``scored_at``).

Time is the whole run (read included, imports not: dask's and distributed's are done before the clock starts); peak is the
worker's VmHWM, read the same way for both, minus nothing (imports included: each path's baseline is shown). The two reports must agree: drift verdicts equal per
column (Wasserstein statistics differ by at most the sketch's bound, the largest difference is shown),
validation reports equal word for word.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # also run as a script (its workers are)

from bench._common import load_average, machine, median, parse_args, publish, spread  # noqa: E402

AS_OF = dt.datetime(2014, 1, 1, tzinfo=dt.UTC)
FILE_ROWS = 100_000


# --- data (parent) -------------------------------------------------------------------------------


def project(folder: Path, train_rows: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The flights reference stats (``reference.npz``), contract (``suite.json``) and the demo's
    HistGradientBoosting pipeline (``model.pkl``, fitted on the last ``train_rows`` of them, default the
    config's ``max_train_rows``) from the January-June rows, under ``folder``; the training rows, and the
    July-December rows a window is resampled from (those with every numeric feature)."""
    from perennial.config import load_config
    from perennial.core.data import features_of, labels_of
    from perennial.core.drift import build_reference
    from perennial.core.training import build_model
    from perennial.core.validation import derive_suite
    from perennial.io.demo_data import load_demo_frame

    config = load_config(ROOT / "configs" / "flights.yaml")
    demo = load_demo_frame()
    cut = demo["time_hour"] < pd.Timestamp("2013-07-01", tz="UTC")
    features = config.data.features
    reference = build_reference(demo[cut], list(features.numeric), list(features.categorical))
    (folder / "reference.npz").write_bytes(reference.to_bytes())
    (folder / "suite.json").write_text(json.dumps(derive_suite(config, demo[cut]).to_dict()))
    hgb = next(c for c in config.training.candidates if c.family == "hist_gradient_boosting")
    train = demo[cut].tail(train_rows or config.training.max_train_rows)
    model = build_model(hgb, config.data.features, config.training.seed)
    model.fit(features_of(train, config), labels_of(train, config))
    (folder / "model.pkl").write_bytes(pickle.dumps(model))
    return train, demo[~cut].dropna(subset=list(features.numeric)).reset_index(drop=True)


def prepare(folder: Path, sizes: list[int]) -> dict[int, Path]:
    """The reference stats and contract, and one partitioned window per size, under ``folder``."""
    from perennial.config import load_config

    config = load_config(ROOT / "configs" / "flights.yaml")
    _, later = project(folder)
    windows = {}
    for rows in sizes:
        frame = later.sample(n=rows, replace=rows > len(later), random_state=0).reset_index(drop=True)
        frame[config.data.id_column] = [f"b{i}" for i in range(rows)]  # ids stay unique after resampling
        window = folder / f"window-{rows}"
        window.mkdir()
        for i, start in enumerate(range(0, rows, FILE_ROWS)):
            frame.iloc[start : start + FILE_ROWS].to_parquet(window / f"part-{i:04}.parquet", index=False)
        windows[rows] = window
    return windows


# --- measurement (inside a worker process) -------------------------------------------------------


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(engine: str, folder: str, window: str) -> dict[str, Any]:
    import time

    from perennial.config import FileSource
    from perennial.core.drift import ReferenceStats, detect_drift
    from perennial.core.validation import SuiteSpec, validate_frame
    from perennial.core.window_checks import check_window_partitioned
    from perennial.io.partitioned import dask_reduce
    from perennial.io.sources import open_lazy, read_source

    reference = ReferenceStats.from_bytes((Path(folder) / "reference.npz").read_bytes())
    suite = SuiteSpec.from_dict(json.loads((Path(folder) / "suite.json").read_text()))
    source = FileSource(kind="parquet", path=window)
    checks: dict[str, Any] = {"source": "bench", "as_of": AS_OF, "freshness_hours": 24.0 * 400}
    if engine == "dask":  # imported once a process (the first compute looks for distributed): not timed
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    baseline = _status_mb("VmRSS")
    start = time.perf_counter()
    if engine == "pandas":
        frame = read_source(source)
        drift, report = detect_drift(reference, frame), validate_frame(frame, suite, engine="vectorised", **checks)
    else:
        reduce = dask_reduce(open_lazy(source), scheduler="synchronous")
        report, drift = check_window_partitioned(reduce, suite, reference, **checks)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": _status_mb("VmHWM"),
        "rows": drift.rows_current,
        "drift": [[c.column, c.test, c.statistic, c.drifted] for c in drift.columns],
        "validation": report.to_dict(),
    }


def scoring_worker(engine: str, folder: str, window: str) -> dict[str, Any]:
    import time

    from perennial.config import FileSource, load_config
    from perennial.core.fingerprint import fingerprint
    from perennial.core.scoring import score_frame
    from perennial.io.partitioned import write_days
    from perennial.io.prediction_store import ParquetPredictionStore
    from perennial.io.sources import open_lazy, read_source

    config = load_config(ROOT / "configs" / "flights.yaml")
    model = pickle.loads((Path(folder) / "model.pkl").read_bytes())
    source = FileSource(kind="parquet", path=window)
    store = ParquetPredictionStore(Path(folder) / f"store-{engine}")
    shutil.rmtree(store.path, ignore_errors=True)
    scoring = (config, "bench", "1", pd.Timestamp(AS_OF))  # one scored_at: the stores can be compared whole
    if engine == "dask":
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    baseline = _status_mb("VmRSS")
    start = time.perf_counter()
    if engine == "pandas":
        predictions = score_frame(model, read_source(source), *scoring)
        rows = len(predictions)
        store.replace_days("batch", predictions)
    else:
        lazy = open_lazy(source)
        scored = lazy.map_partitions(_score, model, *scoring, meta=_score(lazy._meta, model, *scoring))
        rows = len(write_days(scored, store, "batch", ["prediction"], scheduler="synchronous")[0])
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    stored = store.read("batch").sort_values("id", ignore_index=True)
    return {"seconds": seconds, "baseline_mb": baseline, "peak_mb": peak, "rows": rows, "stored": fingerprint(stored)}


def _score(frame: pd.DataFrame, model: Any, *scoring: Any) -> pd.DataFrame:
    """``score_frame`` with the partition first, as ``map_partitions`` calls it."""
    from perennial.core.scoring import score_frame

    return score_frame(model, frame, *scoring)


def run_worker(engine: str, folder: Path, window: Path, step: str = "checks") -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), f"_{step}", engine, str(folder), str(window)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{engine} worker failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


# --- orchestration -------------------------------------------------------------------------------


def compare(pandas: dict[str, Any], dask: dict[str, Any]) -> dict[str, Any]:
    verdicts = [(c, t, d) for c, t, _, d in pandas["drift"]] == [(c, t, d) for c, t, _, d in dask["drift"]]
    largest = max(abs(a[2] - b[2]) for a, b in zip(pandas["drift"], dask["drift"], strict=True))
    return {
        "drift_same": verdicts and pandas["rows"] == dask["rows"],
        "largest_gap": largest,
        "validation_same": pandas["validation"] == dask["validation"],
        "drifted": sum(d for *_, d in pandas["drift"]),
        "failed": pandas["validation"]["failed"],
    }


def report(results: list[dict[str, Any]], args: Any) -> list[str]:
    lines = [
        "## A partitioned window: drift, validation and batch scoring in memory vs over Dask partitions",
        "",
        f"`{args.command}` on {dt.date.today().isoformat()}: the flights reference and contract (January-June);",
        f"the window July-December resampled to N rows (seed 0) in Parquet files of {FILE_ROWS:,} rows; each run a",
        "fresh process reading the window and running drift + validation; time includes the read; peak is the",
        f"process's VmHWM (imports included, baseline shown); median (min-max) of {args.repeats}",
        f"(1-minute load average {load_average()} at the end).",
        "",
        *machine("dask", "pandas", "numpy", "scipy"),
        "",
        "| rows | path | seconds | rows/s | peak MB (baseline) | drift verdicts equal | largest statistic gap "
        "| validation report equal |",
        "|---:|---|---:|---:|---:|---|---:|---|",
    ]
    for r in results:
        for engine in ("pandas", "dask"):
            runs = r[engine]
            seconds = [x["seconds"] for x in runs]
            peak, baseline = median([x["peak_mb"] for x in runs]), median([x["baseline_mb"] for x in runs])
            same = r["same"]
            lines.append(
                f"| {r['rows']:,} | {engine} | {spread(seconds)} | {r['rows'] / median(seconds):,.0f} "
                f"| {peak:,.0f} ({baseline:,.0f}) | {'yes' if same['drift_same'] else 'NO'} "
                f"| {same['largest_gap']:.2g} | {'yes' if same['validation_same'] else 'NO'} |"
            )
    lines += [
        "",
        "Batch scoring (the demo's HistGradientBoosting pipeline; read, score and write the prediction store):",
        "",
        "| rows | path | seconds | rows/s | peak MB (baseline) | stored rows equal |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        for engine in ("pandas", "dask"):
            runs = r["scoring"][engine]
            seconds = [x["seconds"] for x in runs]
            peak, baseline = median([x["peak_mb"] for x in runs]), median([x["baseline_mb"] for x in runs])
            lines.append(
                f"| {r['rows']:,} | {engine} | {spread(seconds)} | {r['rows'] / median(seconds):,.0f} "
                f"| {peak:,.0f} ({baseline:,.0f}) | {'yes' if r['stored_same'] else 'NO'} |"
            )
    ok = all(r["same"]["drift_same"] and r["same"]["validation_same"] for r in results)
    stored = all(r["stored_same"] for r in results)
    lines += [
        "",
        f"- {'met' if stored else 'MISSED'}: the same stored predictions on both paths",
        f"- {'met' if ok else 'MISSED'}: the same drift verdicts and validation report on both paths",
    ]
    return lines


def main() -> None:
    args = parse_args(__doc__, "100k rows only, one repeat")
    sizes, args.repeats = ([100_000], 1) if args.quick else ([250_000, 1_000_000], 3)
    args.command = "python -m bench.dask_window" + (" --quick" if args.quick else "")
    results = []
    with tempfile.TemporaryDirectory(prefix="perennial-bench-dask-window-") as tmp:
        folder = Path(tmp)
        windows = prepare(folder, sizes)
        for rows, window in windows.items():
            runs: dict[str, list[dict[str, Any]]] = {"pandas": [], "dask": []}
            scoring: dict[str, list[dict[str, Any]]] = {"pandas": [], "dask": []}
            for _ in range(args.repeats):
                for engine in runs:  # in turn, so load on the shared machine hits both alike
                    runs[engine].append(run_worker(engine, folder, window))
                    scoring[engine].append(run_worker(engine, folder, window, "scoring"))
            same = compare(runs["pandas"][0], runs["dask"][0])
            stored = {x["stored"] for x in scoring["pandas"] + scoring["dask"]}
            results.append({"rows": rows, **runs, "same": same, "scoring": scoring, "stored_same": len(stored) == 1})
            print(f"{rows:,} rows: {same}, stores equal: {len(stored) == 1}", flush=True)
    lines = report(results, args)
    publish("dask_window", lines, args)
    if any("MISSED" in line for line in lines[-2:]):
        raise SystemExit("the in-memory and partitioned paths disagree")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_checks":
        print(json.dumps(worker(*sys.argv[2:5])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_scoring":
        print(json.dumps(scoring_worker(*sys.argv[2:5])))
    else:
        main()
