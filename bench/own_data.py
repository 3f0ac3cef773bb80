"""Your own data, timed: a 10,000-row table from `perennial init` to a served prediction.

Run:  .venv/bin/python -m bench.own_data [--repeats 3]

The table: scikit-learn's make_classification (10,000 rows, 12 numeric columns, seed 0) with a
text label ("churned"/"stayed") and a categorical column, written as .csv.gz with no time or id
column. Each repeat uses a fresh state folder and times the commands a user types, as
subprocesses: init, train (validate, train two candidates, evaluate, gate, register), score
(every row into the prediction store), serve until the first /predict answer. Prints the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PERENNIAL = [sys.executable, "-m", "perennial.cli"]


def table(path: Path, rows: int = 10_000) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(rows, n_features=12, n_informative=6, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(12)]).round(4)
    frame["plan"] = np.random.default_rng(0).choice(["basic", "plus", "pro"], rows)
    frame["outcome"] = np.where(y == 1, "churned", "stayed")
    frame.to_csv(path, index=False)
    return frame


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*PERENNIAL, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`perennial {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def _serve(config: str, env: dict[str, str], record: dict) -> float:
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
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit("the service answered no request within 300 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def once(folder: Path) -> dict[str, float]:
    data = folder / "customers.csv.gz"
    frame = table(data)
    env = {**os.environ, "PERENNIAL_STATE_DIR": str(folder / "state")}
    config = str(folder / "customers.yaml")
    times = {"init": _run(["init", str(data), "--target", "outcome", "--positive-label", "churned", "-o", config], env)}
    times["train"] = _run(["train", "-c", config], env)
    times["score"] = _run(["score", "-c", config], env)
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in frame.drop(columns="outcome").iloc[0].items()}
    times["serve (first answer)"] = _serve(config, env, record)
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(once(Path(folder)))
            print({k: round(v, 1) for k, v in runs[-1].items()}, flush=True)
    print(f"median of {len(runs)}:", {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]})


if __name__ == "__main__":
    main()
