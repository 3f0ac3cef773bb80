"""Benchmark: the drift engine against Evidently 0.7's DataDriftPreset on the same data.

    .venv/bin/python bench/drift.py                                   # 10k, 100k, 1M, 5M rows
    .venv/bin/python bench/drift.py --sizes 10000 100000 --repeats 2  # a quick look

Data: reference and window of N rows each x 20 columns (15 numeric: normal, lognormal, uniform, rounded,
integer-valued, a few with 1% nulls; 5 categorical strings with 3 to 1000 categories), the window drifted in a
few columns. Every measurement runs in its own subprocess, one at a time:

- build: the reference statistics, once per champion (timed once; written to a temporary .npz);
- engine: loads those statistics, makes the window, times ``detect_drift`` (median of repeats);
- evidently: makes both frames, times ``Report([DataDriftPreset()]).run`` (median of repeats; no HTML).

Memory is the process's peak resident set (VmHWM from /proc/self/status), reset through
/proc/self/clear_refs just before the measured calls: the peak *during* the calls, counting the interpreter,
the libraries and the data already loaded (window and reference statistics for the engine, both frames for
Evidently). "before" is the resident set just before the calls. The per-column verdicts of both are compared
at every size Evidently runs. Results go to stdout and to a section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # also run as a script (its workers are)

from bench._common import RESULTS, commit, load_average, machine, spread, write_results  # noqa: E402

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
LEVELS = [3, 10, 50, 200, 1000]


# --- data ---------------------------------------------------------------------------------


def make_frame(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    """Columns stored contiguous (one float block, column-major) so the frame costs what its data costs."""
    rng = np.random.default_rng(seed)
    block = np.empty((len(NUMERIC), rows))
    for i in range(5):
        block[i] = rng.normal(10.0**i, 1 + i, rows)
    for i in range(5, 8):
        block[i] = rng.lognormal(0, 0.5 + 0.1 * i, rows)
    block[8], block[9] = rng.uniform(0, 1, rows), rng.uniform(-100, 100, rows)
    block[10], block[11] = rng.normal(20, 5, rows).round(1), rng.normal(0, 1, rows).round(2)
    block[12], block[13] = rng.integers(0, 1000, rows), rng.integers(0, 100, rows)
    block[14] = rng.exponential(3, rows)
    if drifted:
        block[0] += 0.3
        block[5] *= 1.3
        block[10] += 1.0
    for i in (3, 9):
        block[i, rng.uniform(size=rows) < 0.01] = np.nan
    frame = pd.DataFrame(block.T, columns=NUMERIC, copy=False)
    for name, levels in zip(CATEGORICAL, LEVELS, strict=True):
        labels = np.array([f"{name}_{k}" for k in range(levels)], dtype=object)
        weights = 1 / np.arange(1, levels + 1) ** (0.5 if drifted and name == "cat_1" else 1.0)
        frame[name] = labels[rng.choice(levels, rows, p=weights / weights.sum())]
    return frame


# --- measurement (inside a worker process) ---------------------------------------------------


def _status_mb(key: str) -> float:
    return int(re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) / 1024


def _measure(call, repeats: int) -> dict:
    gc.collect()
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to now
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return {"times": times, "rss_before_mb": before, "peak_mb": _status_mb("VmHWM"), "result": result}


def worker_build(rows: int, path: str, repeats: int) -> dict:
    from perennial.core.drift import build_reference

    reference = make_frame(rows, seed=1, drifted=False)
    out = _measure(lambda: build_reference(reference, NUMERIC, CATEGORICAL), repeats)
    data = out.pop("result").to_bytes()
    Path(path).write_bytes(data)
    return {**out, "stats_mb": len(data) / 2**20}


def worker_engine(rows: int, path: str, repeats: int) -> dict:
    from perennial.core.drift import ReferenceStats, detect_drift

    start = time.perf_counter()
    stats = ReferenceStats.from_bytes(Path(path).read_bytes())
    loaded = time.perf_counter() - start
    current = make_frame(rows, seed=2, drifted=True)
    out = _measure(lambda: detect_drift(stats, current), repeats)
    report = out.pop("result")
    # Evidently's verdicts, before the engine weighs sampling noise (which Evidently does not)
    verdicts = {c.column: [c.test, c.statistic, c.evidently_drifted] for c in report.columns}
    share = sum(c.evidently_drifted for c in report.columns) / len(report.columns)
    return {**out, "load_s": loaded, "verdicts": verdicts, "dataset_drift": share >= report.share_threshold}


def worker_evidently(rows: int, repeats: int) -> dict:
    from perennial.core.drift.evidently_report import run_preset, summarise

    reference, current = make_frame(rows, seed=1, drifted=False), make_frame(rows, seed=2, drifted=True)
    out = _measure(lambda: run_preset(reference, current, NUMERIC, CATEGORICAL), repeats)
    summary = summarise(out.pop("result"))
    verdicts = {c: [v["test"], v["statistic"], v["drifted"]] for c, v in summary["columns"].items()}
    return {**out, "verdicts": verdicts, "dataset_drift": summary["dataset_drift"]}


# --- orchestration -----------------------------------------------------------------------------


def run_worker(args: list[str], timeout: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "_worker", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(engine: dict, evidently: dict) -> str:
    ours, theirs = engine["verdicts"], evidently["verdicts"]
    same = all(ours[c][0] == theirs[c][0] and ours[c][2] == theirs[c][2] for c in ours)
    same = same and engine["dataset_drift"] == evidently["dataset_drift"]
    gap = max(abs(ours[c][1] - theirs[c][1]) for c in ours)
    drifted = sum(v[2] for v in ours.values())
    return f"{'same' if same else 'DIFFERENT'} ({drifted}/20 drifted), max abs stat diff {gap:.1e}"


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| rows | engine window s | reference build s | Evidently s | speed-up, window only | speed-up counting the build "
        "| engine peak MB (before) | build peak MB | Evidently peak MB (before) | stats MB | verdicts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        e, v, b = r["engine"], r.get("evidently"), r["build"]
        e_s, b_s = statistics.median(e["times"]), statistics.median(b["times"])
        v_s = statistics.median(v["times"]) if v and "times" in v else None
        cells = [
            f"{r['rows']:,}",
            spread(e["times"], 3),
            spread(b["times"], 3),
            spread(v["times"]) if v_s else (v.get("error", "skipped") if v else "skipped"),
            f"{v_s / e_s:.0f}x" if v_s else "-",
            f"{v_s / (e_s + b_s):.0f}x" if v_s else "-",
            f"{e['peak_mb']:.0f} ({e['rss_before_mb']:.0f})",
            f"{b['peak_mb']:.0f}",
            f"{v['peak_mb']:.0f} ({v['rss_before_mb']:.0f})" if v_s else "-",
            f"{b['stats_mb']:.0f}",
            compare(e, v) if v_s else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def goal(rows: list[dict]) -> list[str]:
    """The goal at the largest size Evidently ran: >= 20x counting the build, the same verdicts on
    drifted and undrifted columns alike."""
    compared = [r for r in rows if r.get("evidently") and "times" in r["evidently"]]
    if not compared:
        return ["- no size compared with Evidently"]
    r = compared[-1]
    e, b, v = (statistics.median(r[k]["times"]) for k in ("engine", "build", "evidently"))
    ratio, verdicts = v / (e + b), compare(r["engine"], r["evidently"])
    drifted = sum(x[2] for x in r["engine"]["verdicts"].values())
    ok = ratio >= 20 and verdicts.startswith("same") and 0 < drifted < len(r["engine"]["verdicts"])
    return [
        f"- {'met' if ok else 'MISSED'}: >= 20x Evidently at {r['rows']:,} rows counting the reference build "
        f"({ratio:.0f}x; {v / e:.0f}x for the window alone), verdicts {verdicts}"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 5_000_000])
    parser.add_argument("--quick", action="store_true", help="20k rows, once")
    parser.add_argument("--repeats", type=int, default=5, help="engine repeats per size")
    parser.add_argument("--evidently-repeats", type=int, default=3)
    parser.add_argument("--evidently-max-rows", type=int, default=1_000_000, help="larger sizes: engine only")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per worker")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.evidently_repeats = [20_000], 1, 1
    command = " ".join(["python -m bench.drift", shlex.join(sys.argv[1:])]).strip()
    packages, measured = ("numpy", "pandas", "scipy", "evidently"), commit()  # the commit read when the run began
    print("\n".join(machine(*packages, at=measured)), flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.sizes:
            path = str(Path(tmp) / f"reference-{rows}.npz")
            result = {"rows": rows, "build": run_worker(["build", str(rows), path, str(args.repeats)], args.timeout)}
            result["engine"] = run_worker(["engine", str(rows), path, str(args.repeats)], args.timeout)
            Path(path).unlink(missing_ok=True)
            if rows <= args.evidently_max_rows:
                result["evidently"] = run_worker(["evidently", str(rows), str(args.evidently_repeats)], args.timeout)
            for part in ("build", "engine"):
                if "error" in result[part]:
                    raise SystemExit(f"{part} failed at {rows:,} rows: {result[part]['error']}")
            results.append(result)
            print(table([result])[-1], flush=True)
    lines = [
        f"## Drift engine vs Evidently DataDriftPreset ({dt.date.today().isoformat()})",
        "",
        f"Command: `{command}`",
        "",
        *machine(*packages, at=measured),  # its time and load: when written, as the line says
        f"- reference and window of N rows each x 20 columns (15 numeric, 5 categorical; 4 of them drifted); "
        f"times are median (min-max): the engine's window and the reference build of {args.repeats}, Evidently of "
        f"{args.evidently_repeats}; Evidently up to {args.evidently_max_rows:,} rows; 1-minute load average "
        f"{load_average()} at the end. Speed-up counting the build: Evidently / (window + reference build)",
        "- peak MB: the process's peak resident set (VmHWM, reset via /proc/self/clear_refs just before the timed "
        "calls) during the calls, interpreter, libraries and loaded data included; (before) = resident set just "
        "before the calls. The engine holds the window and the reference statistics, Evidently both frames.",
        "- verdicts: Evidently's per column against the engine's own before it weighs a distance against the "
        "window's sampling noise (core/drift/noise.py, which Evidently does not do); that weighing is in the "
        "engine's time.",
        "",
        *table(results),
        "",
        *goal(results),
    ]
    print("\n".join(lines[lines.index("") + 1 :]))
    if not args.no_write:
        write_results("drift", lines)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    if any("DIFFERENT" in line for line in lines):
        raise SystemExit("the engine's verdicts differ from Evidently's")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "build":
            out = worker_build(int(rest[0]), rest[1], int(rest[2]))
        elif kind == "engine":
            out = worker_engine(int(rest[0]), rest[1], int(rest[2]))
        else:
            out = worker_evidently(int(rest[0]), int(rest[1]))
        print(json.dumps(out))
    else:
        main()
