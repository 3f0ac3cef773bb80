"""Benchmark: `perennial serve` against `mlflow models serve --env-manager local`, same model, one run.

    .venv/bin/python -m bench.serving            # the full run (about 70 s on 2 cores)
    .venv/bin/python -m bench.serving --quick    # fewer requests, a quick look

The model is the demo's kind: HistGradientBoosting in the ColumnTransformer pipeline, trained once
here on the 2013 flights + weather data of January-June with configs/flights.yaml's features and
hgb parameters, logged to a throwaway MLflow (SQLite) and registered as champion. Requests are
July rows (no nulls, so both servers accept them as they are), sent as pre-serialised JSON with
httpx (async, keep-alive) from this process, one server at a time on 127.0.0.1:

- single: one record per request, sequential, after a warm-up;
- batch: 100 records per request, sequential;
- concurrent: 16 clients each sending single-record requests back to back for a fixed time.

Like for like: both servers get one OpenMP thread (OMP_NUM_THREADS=1: perennial's worker sets it
anyway), both are measured in turn within each repeat (median, min and max of the repeats), memory
is shown for the whole process tree of each (MLflow's includes its idle parent) and for the one
process that scores, failed requests are counted in every phase, and the two servers' scores for
the same 100 records are compared row by row (they must be equal: the same model file).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

from bench._common import ROOT, load_average, machine, median, parse_args, publish

PACKAGES = ("fastapi", "uvicorn", "mlflow", "scikit-learn", "pandas", "httpx")
JSON = {"content-type": "application/json"}
GOALS = {"single_p50": 4.0, "throughput_ratio": 10.0, "concurrent_p99": 50.0}


# --- the model ----------------------------------------------------------------------------------


def train_and_register(state: Path) -> tuple[Path, pd.DataFrame, float]:
    """Train the demo-kind model, register it as champion; returns (serving config, July rows, fit s)."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{state / 'mlflow.db'}"
    import mlflow

    from perennial.config import load_config
    from perennial.core.data import features_of, labels_of
    from perennial.core.training import build_model
    from perennial.io import tracking
    from perennial.io.demo_data import load_demo_frame
    from perennial.io.ledger import Ledger
    from perennial.io.registry import Registry, move_alias

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    config = load_config(ROOT / "configs" / "flights.yaml")
    frame = load_demo_frame()
    train = frame[frame["time_hour"] < pd.Timestamp("2013-07-01", tz="UTC")].tail(config.training.max_train_rows)
    july = frame[
        (frame["time_hour"] >= pd.Timestamp("2013-07-01", tz="UTC"))
        & (frame["time_hour"] < pd.Timestamp("2013-08-01", tz="UTC"))
    ]
    # what a client sends: the id and the features, not the outcome columns (the service refuses extras)
    wanted = [config.data.id_column, *config.data.features.columns]
    july = july.dropna(subset=list(config.data.features.columns)).sample(3000, random_state=0).loc[:, wanted]
    hgb = next(c for c in config.training.candidates if c.family == "hist_gradient_boosting")
    started = time.perf_counter()
    model = build_model(hgb, config.data.features, config.training.seed).fit(
        features_of(train, config), labels_of(train, config)
    )
    fit_seconds = time.perf_counter() - started
    experiment = tracking.ensure_experiment("bench-serving", (state / "mlartifacts").as_uri())
    with tracking.tracked_run(experiment, "bench-hgb", {}) as run_id:
        uri = tracking.log_model(run_id, model, features_of(train.tail(1000), config))
    registry = Registry(config.tracking.registered_model)
    version = registry.register(uri, run_id, {"bench": "serving"})
    move_alias(registry, Ledger(f"sqlite:///{state / 'ledger.db'}"), "champion", version, "promote", "bench")
    raw = yaml.safe_load((ROOT / "configs" / "flights.yaml").read_text())
    raw["predictions"] = {"kind": "parquet", "path": str(state / "predictions")}
    path = state / "serving.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, july, fit_seconds


def in_process_predict(rows: pd.DataFrame, state: Path) -> dict[str, float]:
    """predict_proba of the registered model in this process (the floor under any server), and the
    direct path through the same fitted pipeline that perennial serve uses once verified."""
    from perennial.config import load_config
    from perennial.core.data import features_of
    from perennial.io.registry import Registry
    from perennial.serving.compiled import compile_records
    from perennial.serving.fastpath import compile_pipeline, records_of

    config = load_config(state / "serving.yaml")
    model = Registry(config.tracking.registered_model).load("champion")
    direct = compile_pipeline(model)
    compiled = compile_records(model)
    out: dict[str, float] = {}
    for n in (1, 100):
        X = features_of(rows.head(n), config)
        records = records_of(X)
        for name, call in (
            ("predict", model.predict_proba),
            ("direct", direct),
            ("compiled", lambda _, rs=records: compiled(rs)),
        ):
            call(X)
            times = []
            for _ in range(200):
                started = time.perf_counter()
                call(X)
                times.append((time.perf_counter() - started) * 1000)
            out[f"{name}_{n}"] = statistics.median(times)
    return out


# --- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    predict_path: str
    process: subprocess.Popen

    def payload(self, records: list[dict[str, Any]], single: bool) -> bytes:
        if self.name == "perennial":
            return json.dumps(records[0] if single else {"records": records}).encode()
        rows = [{k: v for k, v in r.items() if k != "flight_id"} for r in records]
        return json.dumps({"dataframe_records": rows}).encode()


def start(name: str, state: Path, config: Path, env: dict[str, str]) -> Server:
    port = free_port()
    if name == "perennial":
        command = [sys.executable, "-m", "perennial.cli", "serve", "--config", str(config), "--port", str(port)]
        ready, predict = "/ready", "/predict"
    else:
        mlflow_cli = str(Path(sys.executable).parent / "mlflow")
        uri = "models:/flights-delay@champion"
        command = [
            mlflow_cli,
            "models",
            "serve",
            "-m",
            uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        ready, predict = "/ping", "/invocations"
    log = open(state / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {(state / f'{name}.log').read_text()[-3000:]}")
        try:
            if httpx.get(url + ready, timeout=2).status_code == 200:
                return Server(name, url, predict, process)
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{name} did not become ready in 120 s")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (/proc)."""
    return sum(tree_rss(pid).values())


def tree_rss(pid: int) -> dict[int, float]:
    """Resident MB of a process and each of its descendants (/proc), by pid."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    rss, todo = {}, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss[current] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss


# --- load -------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def sequential(client: httpx.AsyncClient, url: str, bodies: list[bytes], warmup: int) -> tuple[list[float], int]:
    """Latencies (ms) after the warm-up, and the failed requests among them."""
    times, errors = [], 0
    for i, body in enumerate(bodies):
        started = time.perf_counter()
        response = await client.post(url, content=body, headers=JSON)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= warmup:
            times.append(elapsed)
            errors += response.status_code != 200
    return times, errors


async def scores(client: httpx.AsyncClient, server: Server, records: list[dict[str, Any]]) -> list[float]:
    """The positive-class score of each record, as this server answers a batch of them."""
    response = await client.post(
        server.url + server.predict_path, content=server.payload(records, single=False), headers=JSON
    )
    if response.status_code != 200:  # say why: a refused comparison must be diagnosable from the log
        raise SystemExit(f"{server.name} answered {response.status_code} to 100 records: {response.text[:2000]}")
    rows = response.json()["predictions"]
    if server.name == "perennial":
        return [float(r["prediction"]) for r in rows]
    return [float(r[1]) if isinstance(r, list) else float(r) for r in rows]


async def concurrent(
    client: httpx.AsyncClient, url: str, bodies: list[bytes], clients: int, seconds: float
) -> dict[str, float]:
    times: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one(worker: int) -> None:
        nonlocal errors
        i = worker
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.post(url, content=bodies[i % len(bodies)], headers=JSON)
            times.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200
            i += clients

    started = time.perf_counter()
    await asyncio.gather(*(one(w) for w in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "rps": len(times) / elapsed,
        "p50": pct(times, 50),
        "p99": pct(times, 99),
        "requests": len(times),
        "errors": errors,
    }


async def batching(client: httpx.AsyncClient, server: Server) -> dict[str, float]:
    """perennial's batcher counters (predict calls, requests), to see the coalescing under load."""
    if server.name != "perennial":
        return {}
    return (await client.get(server.url + "/metadata")).json()["batching"]


async def measure(server: Server, records: list[dict[str, Any]], quick: bool) -> dict[str, float]:
    url = server.url + server.predict_path
    singles = [server.payload([r], single=True) for r in records]
    batches = [server.payload(records[i : i + 100], single=False) for i in range(0, len(records) - 100, 37)]
    n_single, n_batch, seconds = (100, 30, 3.0) if quick else (400, 100, 8.0)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        single, single_errors = await sequential(client, url, (singles * 2)[: n_single + 50], warmup=50)
        batch, batch_errors = await sequential(client, url, (batches * 4)[: n_batch + 10], warmup=10)
        await concurrent(client, url, singles, 16, 1.0)  # warm the 16 connections
        before = await batching(client, server)
        load = await concurrent(client, url, singles, 16, seconds)
        after = await batching(client, server)
    return {
        "concurrent_calls": after.get("batches", 0) - before.get("batches", 0),
        "concurrent_jobs": after.get("jobs", 0) - before.get("jobs", 0),
        "single_p50": pct(single, 50),
        "single_p99": pct(single, 99),
        "batch_p50": pct(batch, 50),
        "batch_p99": pct(batch, 99),
        "rps": load["rps"],
        "concurrent_p50": load["p50"],
        "concurrent_p99": load["p99"],
        "concurrent_requests": load["requests"],
        "concurrent_errors": load["errors"],
        "errors": single_errors + batch_errors + load["errors"],
    }


# --- report -------------------------------------------------------------------------------------


ROWS = [
    ("single record p50 (ms)", "single_p50", "lower"),
    ("single record p99 (ms)", "single_p99", "lower"),
    ("100 records p50 (ms)", "batch_p50", "lower"),
    ("100 records p99 (ms)", "batch_p99", "lower"),
    ("16 clients throughput (req/s)", "rps", "higher"),
    ("16 clients p50 (ms)", "concurrent_p50", "lower"),
    ("16 clients p99 (ms)", "concurrent_p99", "lower"),
    ("resident MB, whole process tree", "rss_mb", "lower"),
    ("resident MB, the scoring process alone", "worker_mb", "lower"),
    ("failed requests (all phases)", "errors", "lower"),
]


def spread(values: list[float]) -> str:
    return f"{median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def table(ours: dict[str, list[float]], theirs: dict[str, list[float]]) -> list[str]:
    lines = [
        "| measure: median (min-max) of the repeats | perennial serve | mlflow models serve | perennial is |",
        "|---|---:|---:|---:|",
    ]
    for label, key, better in ROWS:
        a, b = median(ours[key]), median(theirs[key])
        if key == "errors":
            verdict = "-"
        else:
            ratio = b / a if better == "lower" else a / b
            verdict = f"{ratio:.2f}x {'better' if ratio >= 1 else 'WORSE'}"
        lines.append(f"| {label} | {spread(ours[key])} | {spread(theirs[key])} | {verdict} |")
    return lines


def goals(ours: dict[str, list[float]], theirs: dict[str, list[float]], same: bool) -> list[str]:
    o = {k: median(v) for k, v in ours.items()}
    t = {k: median(v) for k, v in theirs.items()}
    checks = [
        (
            f"single-record p50 <= {GOALS['single_p50']} ms",
            o["single_p50"] <= GOALS["single_p50"],
            f"{o['single_p50']:.2f} ms",
        ),
        (
            f"16-client throughput >= {GOALS['throughput_ratio']:.0f}x MLflow's",
            o["rps"] >= GOALS["throughput_ratio"] * t["rps"],
            f"{o['rps'] / t['rps']:.1f}x",
        ),
        (
            f"16-client p99 <= {GOALS['concurrent_p99']} ms",
            o["concurrent_p99"] <= GOALS["concurrent_p99"],
            f"{o['concurrent_p99']:.1f} ms",
        ),
        ("no failed request", o["errors"] == 0 and t["errors"] == 0, f"{o['errors']:.0f} and {t['errors']:.0f}"),
        ("the two servers' scores equal row by row", same, "100 records"),
    ]
    slower = [
        label for label, key, better in ROWS[:-1] if (o[key] > t[key]) == (better == "lower") and o[key] != t[key]
    ]
    lines = [f"- {'met' if ok else 'MISSED'}: {name} ({value})" for name, ok, value in checks]
    lines.append("- where perennial is slower or bigger: " + (", ".join(slower) if slower else "nowhere in this run"))
    return lines


def report(
    results: dict[str, dict[str, list[float]]],
    floor: dict[str, float],
    fit_seconds: float,
    args: Any,
    same: bool,
    scores_diff: float,
) -> list[str]:
    ours = results["perennial"]
    calls, jobs = sum(ours["concurrent_calls"]), sum(ours["concurrent_jobs"])
    return [
        "## Serving",
        "",
        f"`{args.command}` on {dt.date.today().isoformat()}: `perennial serve` against `mlflow models serve --env-manager local`,",
        "the same registered model (HistGradientBoosting in the ColumnTransformer pipeline, flights + weather,",
        f"Jan-Jun 2013, fit in {fit_seconds:.0f} s), July records, httpx async client in one process; both servers",
        f"up, measured in turn, {args.repeats} repeats; both with OMP_NUM_THREADS=1 (1-minute load average {load_average()} at the end).",
        f"In-process, one row / 100 rows of that model: `predict_proba` {floor['predict_1']:.2f} / {floor['predict_100']:.2f} ms; "
        f"the direct path through the same fitted pipeline {floor['direct_1']:.2f} / {floor['direct_100']:.2f} ms; "
        f"the pipeline compiled to numpy (what `perennial serve` runs once verified) {floor['compiled_1']:.2f} / {floor['compiled_100']:.2f} ms.",
        f"Under the 16 clients, perennial's micro-batcher made {calls:,.0f} predict calls for {jobs:,.0f} requests "
        f"({jobs / calls if calls else float('nan'):.1f} requests per call). Scores for the same 100 records: "
        f"{'equal' if same else 'DIFFERENT'} row by row (largest difference {scores_diff:.1e}).",
        "",
        *machine(*PACKAGES),
        "",
        *table(results["perennial"], results["mlflow"]),
        "",
        *goals(results["perennial"], results["mlflow"], same),
    ]


def run_servers(
    state: Path, config: Path, records: list[dict[str, Any]], repeats: int, quick: bool
) -> tuple[dict, bool, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same threads for both servers
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # mlflow execs `uvicorn`
    servers = {name: start(name, state, config, env) for name in ("perennial", "mlflow")}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    try:
        compared = {name: asyncio.run(_scores(server, records[:100])) for name, server in servers.items()}
        diff = float(np.max(np.abs(np.subtract(compared["perennial"], compared["mlflow"]))))
        same = compared["perennial"] == compared["mlflow"]
        for r in range(repeats):
            for name, server in servers.items():
                one = asyncio.run(measure(server, records, quick))
                memory = tree_rss(server.process.pid)
                one.update(rss_mb=sum(memory.values()), worker_mb=max(memory.values()))
                for key, value in one.items():
                    results[name].setdefault(key, []).append(value)
                print(f"  repeat {r + 1} {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in one.items()), flush=True)
    finally:
        for server in servers.values():
            stop(server)
    return results, same, diff


async def _scores(server: Server, records: list[dict[str, Any]]) -> list[float]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await scores(client, server, records)


def main() -> None:
    args = parse_args(__doc__, "fewer requests, shorter concurrent runs, one repeat")
    args.repeats = 1 if args.quick else 3
    args.command = "python -m bench.serving" + (" --quick" if args.quick else "")
    state = Path(tempfile.mkdtemp(prefix="perennial-bench-serving-"))
    os.environ.update({"PERENNIAL_STATE_DIR": str(state), "PERENNIAL_LEDGER_URL": f"sqlite:///{state / 'ledger.db'}"})
    print(f"training the demo-kind model (state in {state}) ...", flush=True)
    config, july, fit_seconds = train_and_register(state)
    records = json.loads(
        july.assign(time_hour=july["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_json(orient="records")
    )
    floor = in_process_predict(july, state)
    print(", ".join(f"in-process {k} {v:.2f} ms" for k, v in floor.items()))
    results, same, diff = run_servers(state, config, records, args.repeats, args.quick)
    publish("serving", report(results, floor, fit_seconds, args, same, diff), args)
    if not same:
        raise SystemExit("the two servers' scores differ")


if __name__ == "__main__":
    main()
