"""Validation: the project's Great Expectations suite against the same checks in plain pandas.

    .venv/bin/python -m bench.validation           # 100k and 1M rows, median of 5
    .venv/bin/python -m bench.validation --quick   # 100k rows, median of 2

The contract is derived from the demo's January-June rows (configs/flights.yaml) and checked on
N July-December rows (resampled with replacement past their count), exactly as the flows check a
window: ``validate_frame`` plans every column's checks and runs the column checks as one GX suite
(one batch, one validation call) and reads types, freshness and volume with pandas. The reference
runs the same planned checks with pandas only (GX's semantics: ``mostly`` over non-null values for
ranges and sets). Both must reach the same verdict on every check; rows/s and the ratio are printed.
The three are timed in turn within each repeat, so a burst of other work on the machine hits all alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from bench._common import ROOT, load_average, machine, median, parse_args, publish, timed
from perennial.config import load_config
from perennial.core import validation as v
from perennial.core.validation_gx import ColumnCheck, run_checks
from perennial.io.demo_data import load_demo_frame


def pandas_check(frame: pd.DataFrame, check: ColumnCheck) -> bool:
    """One planned check, decided the way GX decides it, in plain pandas."""
    if check.expect == "exists":
        return check.column in frame.columns
    values = frame[check.column]
    if check.expect == "not_null":
        return bool(values.notna().mean() >= check.mostly) if len(values) else True
    present = values.dropna()
    if check.expect == "unique":
        return not present.duplicated().any()
    if check.expect == "between":
        low, high = check.options["min_value"], check.options["max_value"]
        inside = present.between(low if low is not None else -float("inf"), high if high is not None else float("inf"))
        return bool(inside.mean() >= check.mostly) if len(present) else True
    inside = present.isin(check.options["value_set"])  # in_set
    return bool(inside.mean() >= check.mostly) if len(present) else True


def planned(frame: pd.DataFrame, suite: v.SuiteSpec) -> tuple[list[ColumnCheck], list[v.RuleResult]]:
    """The column checks validate_frame would hand to GX, and the results it reads from dtypes."""
    times = v._times(frame[suite.time_column])
    plan = [item for spec in suite.columns for item in v._plan_column(frame, spec, suite, times if spec.name == suite.time_column else None)]
    return [p for p in plan if isinstance(p, ColumnCheck)], [p for p in plan if not isinstance(p, ColumnCheck)]


def measure(frame: pd.DataFrame, suite: v.SuiteSpec, config: Any, repeats: int) -> dict[str, Any]:
    as_of = dt.datetime(2014, 1, 1, tzinfo=dt.UTC)
    checks, _ = planned(frame, suite)
    calls = {
        "validate_frame": lambda: v.validate_frame(frame, suite, source="bench", as_of=as_of, freshness_hours=24 * 400,
                                                   volume=config.validation.volume),
        "gx": lambda: run_checks(frame, checks),
        "pandas": lambda: [pandas_check(frame, c) for c in checks],
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    out: dict[str, Any] = {}
    for _ in range(repeats):
        for name, call in calls.items():
            seconds, out[name] = timed(call)
            times[name].append(seconds)
    agree = [bool(g[0]) for g in out["gx"]] == out["pandas"]
    ratios = [g / p for g, p in zip(times["gx"], times["pandas"], strict=True)]
    return {"rows": len(frame), "checks": len(checks), **{k: median(t) for k, t in times.items()},
            "ratio": median(ratios), "agree": agree, "report_checks": len(out["validate_frame"].results)}


def report(results: list[dict[str, Any]], quick: bool) -> list[str]:
    lines = [
        "## Validation: the Great Expectations suite vs the same checks in pandas",
        "",
        f"`python -m bench.validation{' --quick' if quick else ''}` on {dt.date.today().isoformat()}: the flights",
        "contract (derived from January-June) checked on July-December rows resampled to N; median of",
        f"{results[0]['repeats']} runs after a warm-up (1-minute load average {load_average()} at the end). `validate_frame` is the whole contract as the flows run it (types,",
        "freshness and volume in pandas, the column checks as one GX suite: one batch, one validation call);",
        "'GX column checks' is that suite alone; 'pandas' runs the same planned checks in plain pandas.",
        "",
        *machine("great_expectations", "pandas", "numpy"),
        "",
        "| rows | checks | validate_frame s (rows/s) | GX column checks s (rows/s) | pandas s (rows/s) | GX / pandas (median of ratios) | same verdicts |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rate = lambda s: f"{s:.2f} ({r['rows'] / s / 1e6:.2f}M)"  # noqa: E731
        lines.append(f"| {r['rows']:,} | {r['checks']} | {rate(r['validate_frame'])} | {rate(r['gx'])} | {rate(r['pandas'])} "
                     f"| {r['ratio']:.1f}x slower | {'yes' if r['agree'] else 'NO'} |")
    return lines


def main() -> None:
    args = parse_args(__doc__, "100k rows only, 2 repeats")
    sizes, repeats = ([100_000], 2) if args.quick else ([100_000, 1_000_000], 5)
    config = load_config(ROOT / "configs" / "flights.yaml")
    demo = load_demo_frame()
    cut = demo["time_hour"] < pd.Timestamp("2013-07-01", tz="UTC")
    suite = v.derive_suite(config, demo[cut])
    later = demo[~cut].reset_index(drop=True)
    results = []
    for rows in sizes:
        frame = later.sample(n=rows, replace=rows > len(later), random_state=0).reset_index(drop=True)
        frame[config.data.id_column] = range(len(frame))  # ids stay unique after resampling
        measure(frame.head(5000), suite, config, 1)  # warm-up: GX's first context
        results.append({**measure(frame, suite, config, repeats), "repeats": repeats})
        print(f"{rows:,} rows: " + ", ".join(f"{k} {val:.2f}" if isinstance(val, float) else f"{k} {val}" for k, val in results[-1].items()), flush=True)
    publish("validation", report(results, args.quick), args)


if __name__ == "__main__":
    main()
