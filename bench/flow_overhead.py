"""Orchestration and tracking overhead: the training flow against the same core calls in a plain script.

    .venv/bin/python -m bench.flow_overhead            # ~100k rows, then all demo rows
    .venv/bin/python -m bench.flow_overhead --quick    # ~100k rows only

Same data (configs/flights.yaml's window: train January-May, hold out June), same candidates and
searches, same evaluation and gate. The plain script calls the core (read, derive and validate the
contract, split, train each candidate, the baseline, select, compare on the holdout with the
bootstrap, gate) with no Prefect and no MLflow. The flow does all of that as Prefect tasks and logs
everything to MLflow (datasets, params, metrics, figures, models, the drift reference, registration,
aliases, ledger). 'cold' is the first flow call in the process (it starts Prefect's ephemeral API);
'warm' is the next one (another registered model, so neither run has a champion to compare with).
Also: a bare fit of the chosen model, what validation, evaluation and gating cost on top of it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench.serving import ROOT, machine, write_results

MARKERS = ("<!-- bench/flow_overhead.py: start -->", "<!-- bench/flow_overhead.py: end -->")


def write_configs(state: Path, frame: pd.DataFrame, tag: str) -> tuple[str, str]:
    source = state / f"flights-{tag}.parquet"
    frame.to_parquet(source, index=False)
    paths = []
    for run in ("cold", "warm"):
        raw = yaml.safe_load((ROOT / "configs" / "flights.yaml").read_text())
        raw["data"]["source"]["path"] = str(source)
        raw["tracking"] = {"experiment": f"bench-{tag}-{run}", "registered_model": f"bench-{tag}-{run}"}
        path = state / f"{tag}-{run}.yaml"
        path.write_text(yaml.safe_dump(raw))
        paths.append(str(path))
    return paths[0], paths[1]


def plain(config_path: str) -> tuple[float, Any, Any]:
    """The training lifecycle's core calls, in order, nothing else; (seconds, chosen model, config)."""
    from perennial.config import load_config
    from perennial.core.data import features_of, labels_of, parse_times, split_by_time
    from perennial.core.gates import check_promotion
    from perennial.core.lifecycle import compare_on_holdout
    from perennial.core.training import select_best, train_baseline, train_candidate
    from perennial.core.validation import derive_suite, validate_frame
    from perennial.io.sources import read_source

    started = time.perf_counter()
    config = load_config(config_path)
    frame = read_source(config.data.source)
    frame[config.data.time_column] = parse_times(frame, config.data.time_column, "bench")
    split = config.split
    frame = frame[(frame[config.data.time_column] >= pd.Timestamp(split.train_start, tz="UTC"))
                  & (frame[config.data.time_column] < pd.Timestamp(split.holdout_end, tz="UTC"))]
    train, holdout = split_by_time(frame, config)
    suite = derive_suite(config, train)
    as_of = dt.datetime.combine(split.holdout_end, dt.time(), tzinfo=dt.UTC)
    validate_frame(frame, suite, source="bench", as_of=as_of, freshness_hours=config.validation.freshness.max_age_hours,
                   volume=config.validation.volume).raise_if_failed()
    X, y = features_of(train, config), labels_of(train, config)
    trained = [train_candidate(c, X, y, config) for c in config.training.candidates]
    baseline = train_baseline(X, y, config)
    best = select_best(trained)
    comparison = compare_on_holdout((f"candidate:{best.name}", best.model), baseline.model, None, holdout, config)
    check_promotion(comparison.candidate, comparison.baseline, None, None, config.gate, config.evaluation.primary_metric)
    return time.perf_counter() - started, best, config


def bare_fit(best: Any, config: Any) -> float:
    """The chosen candidate at its chosen parameters, fitted once on the training rows."""
    from perennial.core.data import features_of, labels_of, split_by_time
    from perennial.core.training import build_model
    from perennial.io.sources import read_source

    frame = read_source(config.data.source)
    train, _ = split_by_time(frame[frame[config.data.time_column] >= pd.Timestamp(config.split.train_start, tz="UTC")], config)
    candidate = next(c for c in config.training.candidates if c.name == best.name)
    chosen = candidate.model_copy(update={"params": best.params, "search": None})
    model = build_model(chosen, config.data.features, config.training.seed)
    X, y = features_of(train, config), labels_of(train, config)
    started = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - started


def timed_flow(config_path: str) -> float:
    from flows.training import training_flow

    started = time.perf_counter()
    training_flow(config_path)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the ~100k-row size only")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="perennial-bench-overhead-"))
    os.environ["PERENNIAL_STATE_DIR"] = str(state)
    for key in ("MLFLOW_TRACKING_URI", "PERENNIAL_LEDGER_URL", "PERENNIAL_ARTIFACT_ROOT", "PREFECT_API_URL"):
        os.environ.pop(key, None)
    import flows  # noqa: F401  - exports the embedded defaults for this state folder before Prefect loads
    from perennial.io.demo_data import load_demo_frame

    demo = load_demo_frame()
    sizes = {"100k": demo.iloc[::3].reset_index(drop=True), "all": demo}
    rows = []
    for tag, frame in list(sizes.items())[: 1 if args.quick else 2]:
        cold_config, warm_config = write_configs(state, frame, tag)
        plain_s, best, config = plain(cold_config)
        cold = timed_flow(cold_config) if not rows else float("nan")  # only the process's first flow starts the API
        warm = timed_flow(warm_config)
        fit = bare_fit(best, config)
        rows.append({"tag": tag, "rows": len(frame), "plain": plain_s, "cold": cold, "warm": warm, "fit": fit, "best": best.name})
        print(rows[-1], flush=True)
    lines = [
        "## Orchestration and tracking overhead: the training flow vs the same core calls",
        "",
        f"`python -m bench.flow_overhead{' --quick' if args.quick else ''}` on {dt.date.today().isoformat()}: configs/flights.yaml's window",
        "(train January-May, hold out June; two candidate families with their searches, the prior baseline,",
        "bootstrap, gate). Plain: the core calls in a script, no Prefect, no MLflow. Flow: `training_flow`,",
        "everything logged and registered. Cold: the process's first flow (starts Prefect's ephemeral API).",
        "",
        *machine(),
        "",
        "| demo rows in the file | plain script s | flow warm s | overhead warm | flow cold s | overhead cold | bare fit of the chosen model s | flow / bare fit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cold = f"{r['cold']:.1f} | {r['cold'] / r['plain'] - 1:+.0%}" if r["cold"] == r["cold"] else "- | -"
        lines.append(f"| {r['rows']:,} | {r['plain']:.1f} | {r['warm']:.1f} | {r['warm'] / r['plain'] - 1:+.0%} | {cold} "
                     f"| {r['fit']:.1f} ({r['best']}) | {r['warm'] / r['fit']:.1f}x |")
    lines += [
        "",
        "Found with this benchmark: HistGradientBoosting's OpenMP fit ran 2.2x slower from a Python worker",
        "thread than from the main thread (10.5 s vs 23.4 s for the same search on 2 cores), and the flow",
        "trained candidates on its thread pool: +64% overhead at full size. Candidates now train one after",
        "the other in the flow's own thread (each fit uses every core; Dask remains for parallel candidates).",
        "What remains is MLflow's record: dataset digests and profiles (~1.4 s), the drift reference (scoring",
        "the training rows, ~1.4 s), each candidate's child run with its model, figures and artifacts.",
    ]
    full = rows[-1]
    lines += ["", f"- {'met' if full['warm'] / full['plain'] - 1 <= 0.15 else 'MISSED'}: overhead under 15% at "
                  f"{'full' if not args.quick else '~100k-row'} size ({full['warm'] / full['plain'] - 1:+.0%}, warm)"]
    print("\n".join(lines))
    if not args.no_write:
        write_results(lines, *MARKERS)


if __name__ == "__main__":
    main()
