"""Your own data, timed: a table with text labels and no time or id column, from `perennial init` to a
served prediction, and how fast the commands a newcomer types first answer.

    .venv/bin/python -m bench.own_data            # 10,000 rows, median of 3 fresh state folders
    .venv/bin/python -m bench.own_data --quick    # 2,000 rows, once

The table: scikit-learn's make_classification (12 numeric columns, seed 0) with a text label
("churned"/"stayed") and a categorical column, written as .csv.gz with no time or id column. Each
repeat uses a fresh state folder and times, as subprocesses, the commands a user types: init,
check, train (validate, train two candidates, evaluate, gate, register), score (every row into
the prediction store), serve until the first /predict answer; then `--help`, `status`, `doctor`,
and the answer to a config with a misspelt key, from `check` and from `train` (issue 14's goals:
the whole path under one minute, each quick command and each config mistake under 2 s).

Checked, not timed: the misspelt key is named with the key it meant, and the service's answer to
the table's first row equals the probability `perennial score` stored for that row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from bench._common import ROOT, machine, median, parse_args, publish, spread

PERENNIAL = [sys.executable, "-m", "perennial.cli"]
PATH_STEPS = ("init", "check", "train", "score", "serve (first answer)")
GOAL_PATH_S, GOAL_QUICK_S = 60.0, 2.0


def table(path: Path, rows: int) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(rows, n_features=12, n_informative=6, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(12)]).round(4)
    frame["plan"] = np.random.default_rng(0).choice(["basic", "plus", "pro"], rows)
    frame["outcome"] = np.where(y == 1, "churned", "stayed")
    frame.to_csv(path, index=False)
    return frame


def _run(args: list[str], env: dict[str, str], expect_failure: bool = False) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*PERENNIAL, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if (done.returncode != 0) != expect_failure:
        raise SystemExit(f"`perennial {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return took, done.stdout + done.stderr


def _serve(config: str, env: dict[str, str], record: dict[str, Any]) -> tuple[float, float]:
    """Seconds from `perennial serve` to its first /predict answer, and that answer's probability."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*PERENNIAL, "serve", "-c", config, "--port", "8765"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < 300:
            try:
                answer = httpx.post("http://127.0.0.1:8765/predict", json=record, timeout=2)
                if answer.status_code == 200:
                    return time.perf_counter() - started, _probability(answer.json())
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit("the service answered no request within 300 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def _probability(body: dict[str, Any]) -> float:
    """The positive label's probability in the service's answer to one record."""
    return float(body["prediction"])


def _stored_probability(config: str, state: Path, first: pd.Series) -> float:
    """The probability `perennial score` stored for the table's first row (found by its features)."""
    from perennial.config import load_config
    from perennial.core.monitoring import PREDICTION
    from perennial.io.prediction_store import open_store

    os.environ["PERENNIAL_STATE_DIR"] = str(state)
    rows = open_store(load_config(Path(config)), ROOT).read("batch")  # not the service's own log of the request
    match = np.isclose(rows["x0"], first["x0"]) & np.isclose(rows["x1"], first["x1"]) & (rows["plan"] == first["plan"])
    if int(match.sum()) != 1:
        raise SystemExit(f"the table's first row is {int(match.sum())} rows of the prediction store, not one")
    return float(rows.loc[match, PREDICTION].iloc[0])


def once(folder: Path, rows: int) -> dict[str, float]:
    data = folder / "customers.csv.gz"
    frame = table(data, rows)
    state = folder / "state"
    env = {**os.environ, "PERENNIAL_STATE_DIR": str(state)}
    for key in ("MLFLOW_TRACKING_URI", "PERENNIAL_LEDGER_URL", "PERENNIAL_ARTIFACT_ROOT", "PREFECT_API_URL"):
        env.pop(key, None)
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # a loaded 2-core machine
    config = str(folder / "customers.yaml")
    times = {
        "init": _run(["init", str(data), "--target", "outcome", "--positive-label", "churned", "-o", config], env)[0]
    }
    times["check"] = _run(["check", "-c", config], env)[0]
    times["train"] = _run(["train", "-c", config], env)[0]
    times["score"] = _run(["score", "-c", config], env)[0]
    first = frame.drop(columns="outcome").iloc[0]
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in first.items()}
    times["serve (first answer)"], served = _serve(config, env, record)
    stored = _stored_probability(config, state, first)
    if abs(served - stored) > 1e-9:
        raise SystemExit(f"served {served!r} for the first row, but `perennial score` stored {stored!r}")
    times["path total"] = sum(times[k] for k in PATH_STEPS)
    times["--help"] = _run(["--help"], env)[0]
    times["status"] = _run(["status", "-c", config], env)[0]
    times["doctor"] = _run(["doctor"], env)[0]
    typo = folder / "typo.yaml"
    typo.write_text(Path(config).read_text().replace("  target:", "  targt:", 1))
    for command in ("check", "train"):
        took, said = _run([command, "-c", str(typo)], env, expect_failure=True)
        if "targt" not in said or "target" not in said or "Traceback" in said:
            raise SystemExit(f"`perennial {command}` on a misspelt key said:\n{said}")
        times[f"misspelt key: {command}"] = took
    return times


def report(runs: list[dict[str, float]], rows: int, quick: bool) -> list[str]:
    def row(step: str, goal: float | None) -> str:
        times = [r[step] for r in runs]
        met = "" if goal is None else ("yes" if median(times) < goal else f"no ({median(times) / goal:.1f}x the goal)")
        return f"| {step} | {spread(times, 1)} | {'' if goal is None else f'< {goal:g}'} | {met} |"

    return [
        "## Your own data: from `perennial init` to a served prediction",
        "",
        f"`.venv/bin/python -m bench.own_data{' --quick' if quick else ''}`: a {rows:,}-row .csv.gz with a text label "
        "and no time or id column (make_classification, seed 0), each command a subprocess in a fresh state folder, "
        f"median (min-max) of {len(runs)} in seconds. Checked: the service's answer to the first row equals the "
        "probability `perennial score` stored for it; the misspelt key is named with the key meant, no traceback.",
        "",
        *machine("prefect", "mlflow", "scikit-learn", "pandas"),
        "",
        "| command | seconds | goal (s) | met |",
        "|---|---:|---:|---|",
        *(row(step, None) for step in PATH_STEPS),
        row("path total", GOAL_PATH_S),
        *(
            row(step, GOAL_QUICK_S)
            for step in ("--help", "status", "doctor", "misspelt key: check", "misspelt key: train")
        ),
    ]


def main() -> None:
    args = parse_args(__doc__, "2,000 rows, once")
    rows, repeats = (2_000, 1) if args.quick else (10_000, 3)
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="perennial-bench-own-") as folder:
            runs.append(once(Path(folder), rows))
            print({k: round(v, 2) for k, v in runs[-1].items()}, flush=True)
    publish("own_data", report(runs, rows, args.quick), args)


if __name__ == "__main__":
    main()
