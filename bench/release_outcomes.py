"""Releases decided on real outcomes, replayed on the demo's 2013 flights through the running service.

    .venv/bin/python -m bench.release_outcomes           # July-December, every row; writes docs/releases.md
    .venv/bin/python -m bench.release_outcomes --quick   # a 10% sample, July-September; nothing written

Four releases, each in its own state (registered model, prediction store, ledger):
(a) a clearly worse challenger (configs/flights.yaml's model trained on 3,000 rows) against the
    champion trained January-May, in shadow and in canary;
(b) a better challenger (January-May) against a champion trained on January alone, in shadow and
    in canary.
Each month from July is answered by the service (perennial.serving.app, in-process, requests of
500 records: the canary still chooses per id), then monitored by flows/monitoring.py with
`release.decide: auto` and the release defaults (alpha 0.05, horizon 2,000 rows, 200 labelled rows
per variant before any decision, margin 0). The service restarts each month and follows the
registry: a pulled challenger is no longer served, a promoted one is the champion.

The A/A replay: the champion's own labelled answers over the replayed months (case a, shadow,
read from the prediction store) split at random into two halves 200 times, each half a "variant";
each split is looked at after every month (and, harder, about 100 times: every 1% of the rows) with the
canary comparison and decision rule, and any promote or pull is a false decision. The same looks
with a one-look 95% interval are shown beside it for contrast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench._common import ROOT, commit, load_average, machine, throwaway_state

DOC = ROOT / "docs" / "releases.md"
MONTHS = [dt.date(2013, m, 1) for m in range(7, 13)] + [dt.date(2014, 1, 1)]
REQUEST_ROWS = 500
SPLITS = 200
ALL_MONTHS = {"train_start": "2013-01-01", "train_end": "2013-06-01", "holdout_end": "2013-07-01"}
JANUARY = {"train_start": "2013-01-01", "train_end": "2013-02-01", "holdout_end": "2013-07-01"}


@dataclass(frozen=True, slots=True)
class Case:
    key: str
    title: str
    mode: str  # shadow | canary
    champion: dict[str, Any]  # what differs from the bench's config for the champion
    challenger: dict[str, Any]
    truth: str  # the decision a release should end in: "pull" or "promote"


def cases() -> list[Case]:
    weak = {"split": ALL_MONTHS, "training.max_train_rows": 3000}
    out = []
    for mode in ("shadow", "canary"):
        out.append(Case(f"a-{mode}", "worse: 3,000 training rows", mode, {"split": ALL_MONTHS}, weak, "pull"))
        out.append(
            Case(
                f"b-{mode}",
                "better: January-May vs January",
                mode,
                {"split": JANUARY},
                {"split": ALL_MONTHS},
                "promote",
            )
        )
    return out


def bench_config(raw: dict[str, Any], folder: Path, name: str, role: str, data: Path, mode: str, **changes: Any) -> str:
    """configs/flights.yaml with its own model and store, one fixed candidate (no search, for time),
    the release on auto; ``changes`` are dotted keys."""
    config = yaml.safe_load(yaml.safe_dump(raw))
    config["name"] = name
    config["data"]["source"] = {"kind": "parquet", "path": str(data)}
    config["tracking"] = {"experiment": name, "registered_model": name}
    candidate = config["training"]["candidates"][0]
    candidate.pop("search", None)
    config["training"]["candidates"] = [candidate]
    # requests carry 500 records: the ramp's latency budget is per request, not per row
    config["serving"] = {"mode": mode, "canary": {"step_requests": 5, "max_p99_ms": 10_000}}
    config["release"] = {"decide": "auto"}
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = folder / f"{name}-{role}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def serve(config_path: str, rows: pd.DataFrame) -> int:
    """Every row asked of the service (its id and features), 500 to a request; returns how many."""
    from fastapi.testclient import TestClient

    from perennial.config import load_config
    from perennial.serving.app import create_app
    from perennial.settings import load_settings

    settings = load_settings()
    config = load_config(settings.root / config_path)
    fields = [c for c in dict.fromkeys([config.data.id_column, *config.data.features.columns]) if c]
    asked = rows[fields].assign(time_hour=rows["time_hour"].map(pd.Timestamp.isoformat))
    records = json.loads(asked.to_json(orient="records"))
    with TestClient(create_app(config, settings)) as client:
        for start in range(0, len(records), REQUEST_ROWS):
            answer = client.post("/predict", json={"records": records[start : start + REQUEST_ROWS]})
            if answer.status_code != 200:
                raise SystemExit(f"release bench: the service answered {answer.status_code}: {answer.text[:300]}")
        deadline = time.monotonic() + 120  # the shadow scores after each answer: let it catch up
        while (shadow := client.get("/metadata").json()["shadow"]) and shadow["rows"] < len(records):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    return len(records)


def run_case(
    case: Case, frame: pd.DataFrame, raw: dict[str, Any], folder: Path, months: int
) -> tuple[str, list[dict[str, Any]]]:
    """Place the champion and the challenger, then serve and monitor month by month: (the release's
    config, one row per month)."""
    from flows.monitoring import monitoring_flow
    from flows.training import training_flow
    from perennial.errors import DataValidationFailed
    from perennial.io.registry import Registry

    name = f"release-{case.key}"
    data = folder / f"{name}.parquet"
    frame.to_parquet(data, index=False)
    placed = bench_config(raw, folder, name, "champion", data, case.mode, **case.champion, **{"gate.mode": "off"})
    # the challenger is registered whatever its gate says (dry-run, manual): the release judges it on
    # outcomes, and a promotion it earns there still passes the enforced gate of the release's config
    challenger = {**case.challenger, "gate.promotion": "manual"}
    trained = bench_config(raw, folder, name, "challenger", data, case.mode, **challenger, **{"gate.mode": "dry-run"})
    config = bench_config(raw, folder, name, "release", data, case.mode, **challenger)
    if not training_flow(config_path=placed).promoted:
        raise SystemExit(f"release bench {case.key}: the champion was not placed")
    if training_flow(config_path=trained).promoted:
        raise SystemExit(f"release bench {case.key}: the challenger became champion at training")
    registry = Registry(name)
    rows = []
    for start, end in zip(MONTHS[:months], MONTHS[1 : months + 1], strict=True):
        inside = (frame["time_hour"] >= pd.Timestamp(start, tz="UTC")) & (
            frame["time_hour"] < pd.Timestamp(end, tz="UTC")
        )
        served = serve(config, frame.loc[inside])
        row: dict[str, Any] = {"month": f"{start:%Y-%m}", "served": served}
        try:
            release = monitoring_flow(config, window_start=start, window_end=end)["release"]
        except DataValidationFailed as exc:  # the flow ends FAILED and judges nothing; the next month goes on
            release, row["why"] = None, f"no decision: the window failed validation ({str(exc).splitlines()[0]})"
        row["champion"] = registry.alias_version("champion")
        if release is not None:
            comparison = release["comparison"] or {}
            row |= {
                "action": release["action"],
                "champion_rows": (comparison.get("champion") or {}).get("rows", 0),
                "challenger_rows": (comparison.get("challenger") or {}).get("rows", 0),
                "improvement": comparison.get("improvement"),
                "why": release["why"],
            }
        rows.append(row)
        print(f"  {case.key} {row['month']}: {row.get('action', 'no release')} | {row.get('why', '')}", flush=True)
    return config, rows


def decided(rows: list[dict[str, Any]]) -> tuple[str, str, int, int, str]:
    """(decision, month, windows it took, challenger's labelled rows then, the bound) of a replay."""
    for i, row in enumerate(rows, start=1):
        if row.get("action") in ("pull", "promote"):
            i_ = row["improvement"]
            bound = f"{i_['mean']:+.4f} [{i_['low']:+.4f}, {i_['high']:+.4f}]"
            return row["action"], row["month"], i, row["challenger_rows"], bound
    last = next((r for r in reversed(rows) if r.get("improvement")), None)
    bound = "-"
    if last is not None:
        i_ = last["improvement"]
        bound = f"{i_['mean']:+.4f} [{i_['low']:+.4f}, {i_['high']:+.4f}]"
    return "none (kept collecting)", "-", len(rows), (last or {}).get("challenger_rows", 0), bound


# --- A/A ------------------------------------------------------------------------------------------


def champion_stream(config_path: str, frame: pd.DataFrame, months: int) -> pd.DataFrame:
    """The champion's labelled answers over the replay, in time order (month, Brier loss, label), from the store."""
    from perennial.config import load_config
    from perennial.core.monitoring import join_labels
    from perennial.core.release import row_losses
    from perennial.io.prediction_store import open_store
    from perennial.io.registry import Registry
    from perennial.settings import load_settings

    config = load_config(Path(config_path))
    champion = Registry(config.tracking.registered_model).alias_version("champion")
    service = open_store(config, load_settings().root).read("service", end=MONTHS[months])
    own = service.loc[service["model_version"] == str(champion)].sort_values("event_time", kind="stable")
    joined = join_labels(own, frame, config, "the demo data")
    month = own.set_index("id").loc[joined["id"], "event_time"]
    return pd.DataFrame(
        {
            "month": pd.to_datetime(month, utc=True).dt.strftime("%Y-%m").to_numpy(),
            "loss": row_losses(joined, "binary"),
            "label": joined["label"].to_numpy(int),
        }
    )


def aa_rates(stream: pd.DataFrame, every: int | None, splits: int) -> tuple[int, int, int]:
    """(A/A splits with a false decision by the confidence sequence, by a one-look interval, looks per split)."""
    from perennial.core.release import ReleasePolicy, compare_unpaired, decide_release

    policy = ReleasePolicy("auto", 0.05, 2000, 200, 20, 0.0)
    rng = np.random.default_rng(0)
    ends = (
        list(range(every, len(stream) + 1, every))
        if every
        else list(np.flatnonzero(stream["month"].ne(stream["month"].shift(-1)).to_numpy()) + 1)
    )
    loss, label = stream["loss"].to_numpy(), stream["label"].to_numpy()
    sequence_false = naive_false = 0
    for _ in range(splits):
        side = rng.uniform(size=len(stream)) < 0.5
        seq = naive = False
        for end in ends:
            a, b = ~side[:end], side[:end]
            comparison = compare_unpaired(
                loss[:end][a], loss[:end][b], label[:end][a], label[:end][b], "binary", policy
            )
            seq = seq or decide_release(comparison, "aa", policy).action in ("promote", "pull")
            x, y = loss[:end][a], loss[:end][b]
            if len(x) >= policy.min_labelled_rows and len(y) >= policy.min_labelled_rows:
                se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
                naive = naive or abs(x.mean() - y.mean()) > 1.96 * se
        sequence_false += seq
        naive_false += naive
    return sequence_false, naive_false, len(ends)


# --- report ---------------------------------------------------------------------------------------


def verdict(case: Case, rows: list[dict[str, Any]], action: str) -> str:
    """yes: the expected decision; not yet: no decision (the safe side); no: a wrong one."""
    wrong = {"pull": "promote", "promote": "pull"}[case.truth]
    if any(r.get("action") == wrong for r in rows):
        return "**no** (wrong decision)"
    return "yes" if action == case.truth else "not yet (kept the champion)"


def report(
    results: list[tuple[Case, list[dict[str, Any]]]], aa: list[tuple[str, tuple[int, int, int]]], **run: Any
) -> list[str]:
    lines = [
        "# Releases decided on real outcomes",
        "",
        f"Written by `.venv/bin/python -m bench.release_outcomes{' --quick' if run['quick'] else ''}` "
        f"({run['minutes']:.0f} min, {run['rows']:,} demo rows, months {run['months']} from July 2013):",
        "",
        *machine("prefect", "mlflow", "scikit-learn", at=run["at"]),
        "",
        "The service answers each month's flights (requests of 500 records) in shadow or canary; the "
        "monitoring flow joins the delayed labels and decides with `release.decide: auto` and the release "
        "defaults (alpha 0.05, horizon 2,000 rows, 200 labelled rows per variant, margin 0). Improvement: "
        "the champion's mean Brier loss minus the challenger's, with the confidence sequence's bounds.",
        "",
        "| release | mode | expected | decided | month | windows | challenger labelled rows | improvement [bounds] | champion at the end | as expected |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, rows in results:
        action, month, windows, labelled, bound = decided(rows)
        lines.append(
            f"| {case.title} | {case.mode} | {case.truth} | {action} | {month} | {windows} | {labelled:,} | "
            f"{bound} | v{rows[-1]['champion']} | {verdict(case, rows, action)} |"
        )
    lines += [
        "",
        f"A/A (the champion against itself, {SPLITS} random halvings of its labelled answers in the "
        "replay, looked at repeatedly; a promote or pull is a false decision; alpha 0.05):",
        "",
        "| looks | looks per replay | false decisions, confidence sequence | false decisions, one-look 95% interval |",
        "|---|---|---|---|",
    ]
    for looks, (seq, naive, n) in aa:
        lines.append(
            f"| {looks} | {n} | {seq}/{SPLITS} ({seq / SPLITS:.1%}) | {naive}/{SPLITS} ({naive / SPLITS:.1%}) |"
        )
    lines += ["", "Per month (decision and why):", ""]
    for case, rows in results:
        lines.append(f"- **{case.title}, {case.mode}**")
        for row in rows:
            lines.append(f"  - {row['month']}: {row.get('action', 'no release running')} — {row.get('why', '')}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 10%% sample, three months, nothing written")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/releases.md alone")
    args = parser.parse_args()
    at, state = commit(), throwaway_state("release")
    from perennial.io.demo_data import load_demo_frame

    frame = load_demo_frame()
    if args.quick:
        frame = frame.sample(frac=0.1, random_state=0).sort_values("time_hour", kind="stable").reset_index(drop=True)
    months = 3 if args.quick else 6
    raw = yaml.safe_load((ROOT / "configs" / "flights.yaml").read_text())
    started = time.monotonic()
    runs = {case.key: (case, *run_case(case, frame, raw, state, months)) for case in cases()}
    results = [(case, rows) for case, _, rows in runs.values()]
    stream = champion_stream(runs["a-shadow"][1], frame, months)
    every = max(500, len(stream) // 100)  # about 100 looks: the price of looking often shows
    aa = [
        ("after every month", aa_rates(stream, None, SPLITS)),
        (f"every {every:,} labelled rows", aa_rates(stream, every, SPLITS)),
    ]
    lines = report(
        results, aa, quick=args.quick, minutes=(time.monotonic() - started) / 60, rows=len(frame), months=months, at=at
    )
    print("\n".join(lines))
    if not (args.quick or args.no_write):
        DOC.write_text("\n".join(lines) + "\n")
    print(f"commit {at}, load {load_average()}")
    if any(verdict(case, rows, decided(rows)[0]).startswith("**no") for case, rows in results):
        raise SystemExit("release bench: a release took the wrong decision (the 'as expected' column)")


if __name__ == "__main__":
    main()
