"""Load: 50 clients on `perennial serve` for 60 s while the champion moves to a new version mid-run.

    .venv/bin/python -m bench.load               # 50 clients, 60 s, swap at 30 s
    .venv/bin/python -m bench.load --quick       # 20 clients, 15 s

The demo-kind model (bench/serving.py's) is registered as v1 and served; at half time v2 is
registered and the `champion` alias moved to it, as `perennial promote` does. The service polls
the alias and swaps models while the clients keep sending single records. Reported: requests,
failures (anything but 200, or a transport error), p50/p99 per phase, which version answered
before and after the swap, and the server's resident memory sampled every 5 s (flat or not).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._common import machine, parse_args, publish
from bench.serving import JSON, PACKAGES, pct, start, stop, train_and_register, tree_rss_mb


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"before": [], "during": [], "after": []})
    versions: dict[str, set[str]] = field(default_factory=lambda: {"before": set(), "during": set(), "after": set()})
    failures: list[str] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)


def swap_champion(state: Path) -> str:
    """Register the champion's model again as a new version and move `champion` to it (ledger too)."""
    from mlflow.tracking import MlflowClient

    from perennial.io.ledger import Ledger
    from perennial.io.registry import Registry, move_alias

    registry = Registry("flights-delay")
    current = MlflowClient().get_model_version("flights-delay", registry.alias_version("champion") or "1")
    version = registry.register(current.source, current.run_id, {"bench": "load swap"})
    move_alias(registry, Ledger(f"sqlite:///{state / 'ledger.db'}"), "champion", version, "promote", "bench.load swap")
    return version


async def drive(url: str, bodies: list[bytes], clients: int, seconds: float, swap: Any, pid: int) -> Tally:
    tally, begun = Tally(), time.perf_counter()
    swapped_at: list[float] = []

    def phase(now: float) -> str:
        if not swapped_at:
            return "before"
        return "during" if now - swapped_at[0] < 12 else "after"  # the service polls every 2 s; 12 s covers the load

    async def client_loop(worker: int, client: httpx.AsyncClient) -> None:
        i = worker
        while (now := time.perf_counter()) - begun < seconds:
            try:
                response = await client.post(url, content=bodies[i % len(bodies)], headers=JSON)
                elapsed = (time.perf_counter() - now) * 1000
                if response.status_code != 200:
                    tally.failures.append(f"{response.status_code}: {response.text[:200]}")
                else:
                    tally.latencies[phase(now)].append(elapsed)
                    tally.versions[phase(now)].add(str(response.json()["model_version"]))
            except httpx.TransportError as exc:
                tally.failures.append(f"{type(exc).__name__}: {exc}")
            i += clients

    async def conductor() -> None:
        while (now := time.perf_counter() - begun) < seconds:
            tally.rss.append((now, tree_rss_mb(pid)))
            if not swapped_at and now >= seconds / 2:
                await asyncio.to_thread(swap)
                swapped_at.append(time.perf_counter())
            await asyncio.sleep(5)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(conductor(), *(client_loop(w, client) for w in range(clients)))
    return tally


def report(tally: Tally, clients: int, seconds: float, quick: bool, new_version: str) -> list[str]:
    total = sum(len(v) for v in tally.latencies.values()) + len(tally.failures)
    rss = [m for t, m in tally.rss if t >= 10] or [m for _, m in tally.rss]
    lines = [
        f"## Load: {clients} clients, champion swapped mid-run",
        "",
        f"`python -m bench.load{' --quick' if quick else ''}`: {clients} async clients (httpx, one process) sending single",
        f"July records back to back to `perennial serve` for {seconds:.0f} s; at {seconds / 2:.0f} s v{new_version} is registered",
        "and `champion` moved to it; the service polls the alias every 2 s and swaps the model in place.",
        "",
        *machine(*PACKAGES),
        "",
        "| phase | requests | p50 ms | p99 ms | versions that answered |",
        "|---|---:|---:|---:|---|",
    ]
    for name, values in tally.latencies.items():
        versions = ", ".join(f"v{v}" for v in sorted(tally.versions[name])) or "-"
        lines.append(
            f"| {name} the swap | {len(values):,} | {pct(values, 50):.1f} | {pct(values, 99):.1f} | {versions} |"
        )
    everything = [x for v in tally.latencies.values() for x in v]
    lines += [
        "",
        f"- requests: {total:,} ({total / seconds:.0f}/s); failed: {len(tally.failures)}"
        + (f" (first: {tally.failures[0]})" if tally.failures else ""),
        f"- p99 over the whole run: {pct(everything, 99):.1f} ms",
        f"- server resident memory after warm-up: {min(rss):.0f}-{max(rss):.0f} MB over {len(rss)} samples "
        f"(first {rss[0]:.0f}, last {rss[-1]:.0f} MB; two models are held briefly during the swap)",
        f"- {'met' if not tally.failures else 'MISSED'}: 0 failed requests across the swap",
    ]
    return lines


def main() -> None:
    args = parse_args(__doc__, "20 clients for 15 s")
    clients, seconds = (20, 15.0) if args.quick else (50, 60.0)
    state = Path(tempfile.mkdtemp(prefix="perennial-bench-load-"))
    os.environ.update({"PERENNIAL_STATE_DIR": str(state), "PERENNIAL_LEDGER_URL": f"sqlite:///{state / 'ledger.db'}"})
    print(f"training the demo-kind model (state in {state}) ...", flush=True)
    config, july, _ = train_and_register(state)
    raw = yaml.safe_load(config.read_text())
    raw["serving"] = {"reload_interval_seconds": 2.0}
    config.write_text(yaml.safe_dump(raw))
    records = json.loads(
        july.assign(time_hour=july["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_json(orient="records")
    )
    bodies = [json.dumps(r).encode() for r in records]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = start("perennial", state, config, env)
    new_version: list[str] = []
    try:
        print(f"{clients} clients for {seconds:.0f} s, swap at {seconds / 2:.0f} s ...", flush=True)
        tally = asyncio.run(
            drive(
                server.url + "/predict",
                bodies,
                clients,
                seconds,
                lambda: new_version.append(swap_champion(state)),
                server.process.pid,
            )
        )
    finally:
        stop(server)
    lines = report(tally, clients, seconds, args.quick, new_version[0] if new_version else "?")
    publish("load", lines, args)
    if any(line.startswith("- MISSED") for line in lines):
        raise SystemExit("requests failed across the swap")


if __name__ == "__main__":
    main()
