"""Validation: the data contract checked by Great Expectations against the same checks vectorised.

    .venv/bin/python -m bench.validation           # 100k and 1M rows, median of 5
    .venv/bin/python -m bench.validation --quick   # 100k rows, one repeat; writes nothing unless asked

The contract is derived from the demo's January-June rows (configs/flights.yaml) and checked on
N July-December rows (resampled with replacement past their count), as the flows check a window:
``validate_frame`` plans every column's checks, reads types, freshness and volume with pandas, and
runs the column checks with one of two engines: ``gx`` (one Great Expectations suite, one batch,
one validation call: the validation and training flows) or ``vectorised`` (the same checks in
pandas with GX's semantics: batch scoring). Both are timed in turn within each repeat, on a clean
window and on a broken copy (values out of range, unseen categories past the allowed share, nulls
past the bound, duplicated ids): the two reports must be equal result by result on both, and the
broken one must fail, so the comparison can see a disagreement.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from bench._common import ROOT, load_average, machine, median, parse_args, publish, spread, timed
from perennial.config import load_config
from perennial.core import validation as v
from perennial.io.demo_data import load_demo_frame

AS_OF = dt.datetime(2014, 1, 1, tzinfo=dt.UTC)


def broken(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """A copy that breaks four rules: temp out of range, carriers never seen, humid nulls, repeated ids."""
    out = frame.copy()
    rows = np.arange(len(out))
    out.loc[rows % 50 == 0, "temp"] = 500.0
    out["carrier"] = out["carrier"].where(rows % 20 != 0, "ZZ")
    out.loc[rows % 4 == 0, "humid"] = np.nan
    out.loc[rows % 1000 == 1, id_column] = out[id_column].iloc[0]
    return out


def measure(frames: dict[str, pd.DataFrame], suite: v.SuiteSpec, config: Any, repeats: int) -> dict[str, Any]:
    def run(frame: pd.DataFrame, engine: str) -> v.ValidationReport:
        # no volume rule: resampled to 1M rows, a window holds more flights a day than any real one
        return v.validate_frame(frame, suite, source="bench", as_of=AS_OF, freshness_hours=24 * 400, engine=engine)  # type: ignore[arg-type]

    times: dict[str, list[float]] = {}
    reports: dict[str, v.ValidationReport] = {}
    for _ in range(repeats):
        for kind, frame in frames.items():
            for engine in ("gx", "vectorised"):
                seconds, reports[f"{kind}/{engine}"] = timed(lambda f=frame, e=engine: run(f, e))
                times.setdefault(f"{kind}/{engine}", []).append(seconds)
    out: dict[str, Any] = {"rows": len(frames["clean"]), "times": times}
    for kind in frames:
        gx, ours = reports[f"{kind}/gx"], reports[f"{kind}/vectorised"]
        out[f"{kind}_same"] = gx.results == ours.results
        out[f"{kind}_failed"] = sum(not r.passed for r in gx.results)
        out[f"{kind}_ratio"] = median(
            [g / o for g, o in zip(times[f"{kind}/gx"], times[f"{kind}/vectorised"], strict=True)]
        )
    out["checks"] = len(reports["clean/gx"].results)
    return out


def report(results: list[dict[str, Any]], args: Any) -> list[str]:
    lines = [
        "## Validation: the contract checked by Great Expectations vs vectorised",
        "",
        f"`{args.command}` on {dt.date.today().isoformat()}: the flights contract (derived from January-June)",
        "checked on July-December rows resampled to N, clean and broken (temp out of range on 2% of rows,",
        "5% unseen carriers, a quarter of humid null, repeated ids); `validate_frame` with each engine, timed in",
        f"turn, median (min-max) of {args.repeats} after a warm-up (1-minute load average {load_average()} at the end).",
        "",
        *machine("great_expectations", "pandas", "numpy"),
        "",
        "| rows | data | results | failed | GX s | vectorised s | GX / vectorised | same report |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for kind in ("clean", "broken"):
            lines.append(
                f"| {r['rows']:,} | {kind} | {r['checks']} | {r[f'{kind}_failed']} | {spread(r['times'][f'{kind}/gx'])} "
                f"| {spread(r['times'][f'{kind}/vectorised'])} | {r[f'{kind}_ratio']:.1f}x | {'yes' if r[f'{kind}_same'] else 'NO'} |"
            )
    same = all(r["clean_same"] and r["broken_same"] for r in results)
    sees = all(r["clean_failed"] == 0 and r["broken_failed"] > 0 for r in results)
    lines += ["", f"- {'met' if same and sees else 'MISSED'}: identical reports from both engines, clean and broken"]
    return lines


def main() -> None:
    args = parse_args(__doc__, "100k rows only, one repeat")
    sizes, args.repeats = ([100_000], 1) if args.quick else ([100_000, 1_000_000], 5)
    args.command = "python -m bench.validation" + (" --quick" if args.quick else "")
    config = load_config(ROOT / "configs" / "flights.yaml")
    demo = load_demo_frame()
    cut = demo["time_hour"] < pd.Timestamp("2013-07-01", tz="UTC")
    suite = v.derive_suite(config, demo[cut])
    # rows with complete weather: some real days lack pressure or wind, which the contract refuses
    later = demo[~cut].dropna(subset=list(config.data.features.numeric)).reset_index(drop=True)
    results = []
    for rows in sizes:
        frame = later.sample(n=rows, replace=rows > len(later), random_state=0).reset_index(drop=True)
        frame[config.data.id_column] = [f"b{i}" for i in range(len(frame))]  # ids stay unique after resampling
        frames = {"clean": frame, "broken": broken(frame, config.data.id_column)}
        measure({k: f.head(5000) for k, f in frames.items()}, suite, config, 1)  # warm-up: GX's first context
        results.append(measure(frames, suite, config, args.repeats))
        print(
            f"{rows:,} rows: " + ", ".join(f"{k} {val}" for k, val in results[-1].items() if k != "times"), flush=True
        )
    lines = report(results, args)
    publish("validation", lines, args)
    if "MISSED" in lines[-1]:
        raise SystemExit("the two engines' reports differ, or the broken data passed")


if __name__ == "__main__":
    main()
