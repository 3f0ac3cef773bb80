"""Cost growth: drift, validation and batch scoring at 100k, 1M and 10M rows (time and peak memory).

    .venv/bin/python -m bench.growth            # 100k, 1M (3 repeats) and 10M rows (once)
    .venv/bin/python -m bench.growth --quick    # 20k and 100k rows, once each

Each step at each size runs in its own process, so its peak resident set (VmHWM, reset just
before the timed calls) is its own: the data it holds plus what the step allocates.

- drift: the reference statistics built from N rows x 20 columns, then ``detect_drift`` on a
  window of N rows (bench/drift.py's synthetic data, four columns drifted);
- validation: the flights contract (derived from January-June) on N July-December rows,
  ``validate_frame`` with the vectorised engine (what batch scoring runs) and with Great
  Expectations (the validation flow's; up to 1M rows: past that it copies the frame once per
  column check);
- scoring: bare ``predict_proba`` of the demo's HistGradientBoosting pipeline and ``score_frame``
  (the same plus the prediction rows batch scoring writes), on N July-December rows.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench._common import load_average, machine, median, parse_args, peak_mb, publish, reset_peak, rss_mb, spread, timed  # noqa: E402

STEPS = ("drift-build", "drift-window", "validate-vectorised", "validate-gx", "predict_proba", "score_frame")
GX_MAX_ROWS = 1_000_000


# --- inside a worker ------------------------------------------------------------------------------


def flights(rows: int) -> tuple[Any, Any]:
    """(config, N July-December demo rows with complete weather and unique ids)."""
    import pandas as pd

    from perennial.config import load_config
    from perennial.io.demo_data import load_demo_frame

    config = load_config(ROOT / "configs" / "flights.yaml")
    demo = load_demo_frame()
    later = demo[demo["time_hour"] >= pd.Timestamp("2013-07-01", tz="UTC")].dropna(
        subset=list(config.data.features.numeric)
    )
    frame = later.sample(n=rows, replace=rows > len(later), random_state=0).reset_index(drop=True)
    frame[config.data.id_column] = [f"g{i}" for i in range(rows)]
    return config, frame


def work(step: str, rows: int, repeats: int, state: Path) -> dict[str, Any]:
    """The step's call on N rows, its data made first and the call warmed up on 1,000 of them;
    returns the times and the peak resident set during the timed calls."""
    if step.startswith("drift"):
        from bench.drift import CATEGORICAL, NUMERIC, make_frame
        from perennial.core.drift import build_reference, detect_drift

        data = make_frame(rows, seed=1, drifted=False)
        if step == "drift-build":
            call = lambda d: build_reference(d, NUMERIC, CATEGORICAL)  # noqa: E731
        else:
            stats = build_reference(data, NUMERIC, CATEGORICAL)
            data = make_frame(rows, seed=2, drifted=True)
            call = lambda d: detect_drift(stats, d)  # noqa: E731
    elif step.startswith("validate"):
        from perennial.core.validation import SuiteSpec, validate_frame

        config, data = flights(rows)
        suite = SuiteSpec.from_dict(json.loads((state / "suite.json").read_text()))
        engine = step.removeprefix("validate-")
        call = lambda d: validate_frame(d, suite, source="bench", require_target=False, engine=engine)  # noqa: E731
    else:
        from perennial.core.data import model_inputs
        from perennial.core.scoring import score_frame

        config, data = flights(rows)
        model = pickle.loads((state / "model.pkl").read_bytes())
        if step == "predict_proba":
            data = model_inputs(model, data, config)
            call = lambda d: model.predict_proba(d)  # noqa: E731
        else:
            call = lambda d: score_frame(model, d, config, "bench", "1")  # noqa: E731
    import gc

    call(data.head(1000))  # first-use set-up (GX's context, lazy imports) is not what grows with rows
    gc.collect()
    before = rss_mb()
    reset_peak()
    times = [timed(lambda: call(data))[0] for _ in range(repeats)]
    return {"times": times, "peak_mb": peak_mb(), "before_mb": before}


# --- the run ----------------------------------------------------------------------------------------


def prepare(state: Path) -> float:
    """The contract and the HGB pipeline, from January-June, for the workers; returns the fit seconds."""
    import pandas as pd

    from perennial.config import load_config
    from perennial.core.data import features_of, labels_of
    from perennial.core.training import build_model
    from perennial.core.validation import derive_suite
    from perennial.io.demo_data import load_demo_frame

    config = load_config(ROOT / "configs" / "flights.yaml")
    demo = load_demo_frame()
    train = demo[demo["time_hour"] < pd.Timestamp("2013-07-01", tz="UTC")]
    (state / "suite.json").write_text(json.dumps(derive_suite(config, train).to_dict()))
    hgb = next(c for c in config.training.candidates if c.family == "hist_gradient_boosting")
    train = train.tail(config.training.max_train_rows)
    model = build_model(hgb, config.data.features, config.training.seed)
    seconds, _ = timed(lambda: model.fit(features_of(train, config), labels_of(train, config)))
    (state / "model.pkl").write_bytes(pickle.dumps(model))
    return seconds


def run(step: str, rows: int, repeats: int, state: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.growth", "_worker", step, str(rows), str(repeats), str(state)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} at {rows:,} rows failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict[tuple[str, int], dict[str, Any]], sizes: list[int], args: Any) -> list[str]:
    lines = [
        "## Cost growth: drift, validation and batch scoring from 100k to 10M rows",
        "",
        f"`{args.command}` on {dt.date.today().isoformat()}: each step at each size in its own process; seconds as",
        f"median (min-max) of {args.repeats} below 10M rows, one run at 10M; peak MB: the process's peak resident set",
        "during the calls (data loaded first, so it counts), and how far it rose above the resident set before them.",
        f"1-minute load average {load_average()} at the end.",
        "",
        *machine("numpy", "pandas", "scikit-learn", "great_expectations", "scipy"),
        "",
        "| step | "
        + " | ".join(f"{n:,} rows: s" for n in sizes)
        + " | "
        + " | ".join(f"{n:,}: peak MB (+rise)" for n in sizes)
        + f" | s per 1M rows at {sizes[-1]:,} |",
        "|---|" + "---:|" * (2 * len(sizes) + 1),
    ]
    for step in STEPS:
        cells, memory = [], []
        for n in sizes:
            r = results.get((step, n))
            cells.append(spread(r["times"], 3) if r else "not run")
            memory.append(f"{r['peak_mb']:,.0f} (+{r['peak_mb'] - r['before_mb']:,.0f})" if r else "-")
        last = results.get((step, sizes[-1])) or results.get((step, GX_MAX_ROWS))
        rate = (
            f"{median(last['times']) / (sizes[-1] if (step, sizes[-1]) in results else GX_MAX_ROWS) * 1e6:.3f}"
            if last
            else "-"
        )
        lines.append(f"| {step} | " + " | ".join(cells) + " | " + " | ".join(memory) + f" | {rate} |")
    return lines


def main() -> None:
    args = parse_args(__doc__, "20k and 100k rows, once each")
    sizes = [20_000, 100_000] if args.quick else [100_000, 1_000_000, 10_000_000]
    args.repeats = 1 if args.quick else 3
    args.command = "python -m bench.growth" + (" --quick" if args.quick else "")
    state = Path(tempfile.mkdtemp(prefix="perennial-bench-growth-"))
    print(f"fitted the model in {prepare(state):.1f} s", flush=True)
    results = {}
    for rows in sizes:
        for step in STEPS:
            if step == "validate-gx" and rows > GX_MAX_ROWS:
                continue
            results[(step, rows)] = run(step, rows, 1 if rows >= 10_000_000 else args.repeats, state)
            print(f"{step} {rows:,}: {results[(step, rows)]}", flush=True)
    publish("growth", report(results, sizes, args), args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        step, rows, repeats, state = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
        print(json.dumps(work(step, rows, repeats, state)))
    else:
        main()
