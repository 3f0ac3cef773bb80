"""Orchestration and tracking overhead: the training flow against the same core calls in a plain script.

    .venv/bin/python -m bench.orchestration            # ~100k rows, then all demo rows; median of 3
    .venv/bin/python -m bench.orchestration --quick    # ~33k rows only, once

Same data (configs/flights.yaml's window: train January-May, hold out June), same candidates and
searches, same evaluation, insights and gate. The plain script calls what the flow's tasks call in
the core (read, derive and validate the contract, split, train each candidate, the baseline, select,
the drift reference, the data profile, compare on the holdout with the bootstrap, error analysis,
business cost with its validation refit, permutation importance, gate) with no Prefect and no
MLflow. The flow does all of that as Prefect tasks and records everything in MLflow (datasets,
params, metrics, figures, models, the reference, registration, aliases, ledger). 'cold' is the
process's first flow (it starts Prefect's ephemeral API); then plain and flow take turns. Each
flow registers its own model name, so no run has a champion to compare with (nor has the plain).
Also: a bare fit of the chosen model, and where the flow's time goes, task by task, from Prefect.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench._common import ROOT, load_average, machine, median, parse_args, publish, spread, throwaway_state, timed

GOAL = 0.10


def write_config(state: Path, source: Path, name: str) -> str:
    raw = yaml.safe_load((ROOT / "configs" / "flights.yaml").read_text())
    raw["data"]["source"]["path"] = str(source)
    raw["tracking"] = {"experiment": f"bench-{name}", "registered_model": f"bench-{name}"}
    path = state / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def plain(config_path: str) -> tuple[dict[str, float], Any, Any]:
    """The training lifecycle's core calls, in the flow's order: ({step: seconds}, chosen model, config)."""
    from sklearn.base import clone

    from perennial.config import load_config
    from perennial.core.cost import cost_report, validation_probabilities
    from perennial.core.data import features_of, labels_of, model_inputs, split_by_time
    from perennial.core.drift import build_reference
    from perennial.core.error_analysis import analyze_errors
    from perennial.core.gates import check_promotion
    from perennial.core.importance import permutation_importances
    from perennial.core.lifecycle import compare_on_holdout
    from perennial.core.monitoring import PREDICTION
    from perennial.core.profile import profile_frame
    from perennial.core.training import select_best, train_baseline, train_candidate
    from perennial.core.validation import derive_suite, validate_frame
    from tasks.data import load_data_task  # its plain function: read, parse times, cut the window

    config = load_config(config_path)
    ev, features, steps = config.evaluation, config.data.features, {}

    def proba(model: Any, rows: pd.DataFrame) -> Any:
        return model.predict_proba(model_inputs(model, rows, config))[:, 1]

    steps["read"], (frame, _) = timed(lambda: load_data_task.fn(config, ROOT))
    split = config.split
    as_of = dt.datetime.combine(split.holdout_end, dt.time(), tzinfo=dt.UTC)
    train, holdout = split_by_time(frame, config)
    steps["validate"], _ = timed(
        lambda: validate_frame(
            frame,
            derive_suite(config, train),
            source="bench",
            as_of=as_of,
            freshness_hours=config.validation.freshness.max_age_hours,
            volume=config.validation.volume,
        ).raise_if_failed()
    )
    X, y = features_of(train, config), labels_of(train, config)
    steps["train"], (best, baseline) = timed(
        lambda: (
            select_best([train_candidate(c, X, y, config) for c in config.training.candidates]),
            train_baseline(X, y, config),
        )
    )
    steps["reference"], _ = timed(
        lambda: build_reference(
            train.loc[:, [*features.numeric, *features.categorical]].assign(**{PREDICTION: proba(best.model, train)}),
            [*features.numeric, PREDICTION],
            features.categorical,
        )
    )
    steps["profile"], _ = timed(lambda: profile_frame(train, config))
    steps["evaluate"], comparison = timed(
        lambda: compare_on_holdout((f"candidate:{best.name}", best.model), baseline.model, None, holdout, config)
    )

    def insights() -> None:
        y_holdout, p_holdout = labels_of(holdout, config), proba(best.model, holdout)
        analyze_errors(f"candidate:{best.name}", y_holdout, p_holdout, holdout, ev)
        if ev.cost is not None:

            def refit(rows: pd.DataFrame) -> Any:
                return clone(best.model).fit(features_of(rows, config), labels_of(rows, config))

            rows, p_val = validation_probabilities(
                refit, proba, train, config.data.time_column, ev.cost.validation_share
            )
            cost_report(labels_of(rows, config), p_val, y_holdout, p_holdout, ev.cost, ev.threshold)
        permutation_importances(
            best.model,
            model_inputs(best.model, holdout, config),
            y_holdout,
            ev.primary_metric,
            ev.importance,
            config.training.seed,
        )

    steps["insights"], _ = timed(insights)
    steps["gate"], _ = timed(
        lambda: check_promotion(comparison.candidate, comparison.baseline, None, None, config.gate, ev.primary_metric)
    )
    return steps, best, config


def bare_fit(best: Any, config: Any) -> float:
    """The chosen candidate at its chosen parameters, fitted once on the training rows."""
    from perennial.core.data import features_of, labels_of, split_by_time
    from perennial.core.training import build_model
    from tasks.data import load_data_task

    train, _ = split_by_time(load_data_task.fn(config, ROOT)[0], config)
    candidate = next(c for c in config.training.candidates if c.name == best.name)
    chosen = candidate.model_copy(update={"params": best.params, "search": None})
    model = build_model(chosen, config.data.features, config.training.seed)
    X, y = features_of(train, config), labels_of(train, config)
    return timed(lambda: model.fit(X, y))[0]


def flow_tasks(flow_run_id: Any) -> dict[str, float]:
    """Seconds per task name (summed over its runs) of one flow run, as Prefect recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    seconds: dict[str, float] = defaultdict(float)
    for run in runs:
        if run.start_time and run.end_time:
            seconds[run.name.rsplit("-", 1)[0]] += (run.end_time - run.start_time).total_seconds()
    return dict(seconds)


def timed_flow(config_path: str) -> tuple[float, dict[str, float]]:
    from flows.training import training_flow

    seconds, state = timed(lambda: training_flow(config_path, return_state=True))
    state.result()  # raises if the flow failed
    return seconds, flow_tasks(state.state_details.flow_run_id)


def measure(state: Path, tag: str, frame: pd.DataFrame, repeats: int, cold: bool) -> dict[str, Any]:
    source = state / f"flights-{tag}.parquet"
    frame.to_parquet(source, index=False)
    out: dict[str, Any] = {"tag": tag, "rows": len(frame), "cold": float("nan")}
    if cold:  # only the process's first flow starts the ephemeral API
        out["cold"] = timed_flow(write_config(state, source, f"{tag}-cold"))[0]
    plains, flows, steps, tasks = [], [], [], []
    for i in range(repeats):
        step, best, config = plain(write_config(state, source, f"{tag}-plain-{i}"))
        steps.append(step)
        plains.append(sum(step.values()))
        seconds, per_task = timed_flow(write_config(state, source, f"{tag}-flow-{i}"))
        flows.append(seconds)
        tasks.append(per_task)
        print(f"{tag} repeat {i + 1}: plain {plains[-1]:.1f} s, flow {flows[-1]:.1f} s", flush=True)
    out.update(
        plains=plains,
        flows=flows,
        plain=median(plains),
        flow=median(flows),
        best=best.name,
        fit=bare_fit(best, config),
        overhead=median([f / p - 1 for f, p in zip(flows, plains, strict=True)]),
        steps={k: median([s[k] for s in steps]) for k in steps[0]},
        tasks={k: median([t.get(k, 0.0) for t in tasks]) for k in tasks[0]},
    )
    return out


def report(rows: list[dict[str, Any]], repeats: int, quick: bool) -> list[str]:
    lines = [
        "## Orchestration and tracking overhead: the training flow vs the same core calls",
        "",
        f"`python -m bench.orchestration{' --quick' if quick else ''}` on {dt.date.today().isoformat()}: configs/flights.yaml's window",
        "(train January-May, hold out June; two candidate families with their searches, the prior baseline,",
        "the drift reference, profile, bootstrap, error analysis, business cost, permutation importance, gate).",
        "Plain: those core calls in a script, no Prefect, no MLflow. Flow: `training_flow`, everything logged and",
        f"registered. Median (min-max) of {repeats}, plain and flow in turn (1-minute load average {load_average()} at the end);",
        "cold: the process's first flow (it starts Prefect's ephemeral API).",
        "",
        *machine("prefect", "mlflow", "scikit-learn", "pandas", "great_expectations"),
        "",
        "| demo rows in the file | plain script s | flow s | overhead (median of ratios) | flow cold s | bare fit of the chosen model s | flow / bare fit |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cold = f"{r['cold']:.1f}" if r["cold"] == r["cold"] else "-"
        lines.append(
            f"| {r['rows']:,} | {spread(r['plains'], 1)} | {spread(r['flows'], 1)} | {r['overhead']:+.0%} | {cold} "
            f"| {r['fit']:.1f} ({r['best']}) | {r['flow'] / r['fit']:.1f}x |"
        )
    last = rows[-1]
    lines += [
        "",
        f"Where the time goes at {last['rows']:,} rows (medians, s). Plain script steps: "
        + ", ".join(f"{k} {v:.1f}" for k, v in last["steps"].items())
        + ". Flow tasks as Prefect timed them: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(last["tasks"].items(), key=lambda kv: -kv[1]) if v >= 0.05)
        + _outside(last["flow"], sum(last["tasks"].values())),
    ]
    lines += [
        "",
        f"- {'met' if last['overhead'] <= GOAL else 'MISSED'}: overhead under {GOAL:.0%} at "
        f"{'full' if not quick else 'the quick'} size ({last['overhead']:+.0%})",
    ]
    return lines


def main() -> None:
    args = parse_args(__doc__, "~33k rows only, once")
    repeats = 1 if args.quick else 3
    full_only = "--full-only" in __import__("sys").argv  # all demo rows, without the ~100k-row size first
    state = throwaway_state("orchestration")
    from perennial.io.demo_data import load_demo_frame

    demo = load_demo_frame()
    sizes = {"33k": demo.iloc[::10]} if args.quick else {"100k": demo.iloc[::3], "all": demo}
    if full_only:
        sizes.pop("100k", None)
    rows = []
    for i, (tag, frame) in enumerate(sizes.items()):
        frame = frame.reset_index(drop=True)
        rows.append(measure(state, tag, frame, repeats, cold=i == 0))
        print(rows[-1], flush=True)
    publish("orchestration", report(rows, repeats, args.quick), args)


def _outside(flow: float, tasks: float) -> str:
    """The flow's time outside its tasks; the insight tasks run side by side, so their sum can pass the flow's
    (a8b8609's run printed "outside any task -6.7")."""
    if tasks > flow:
        return f"; the tasks overlap: their times add up to {tasks:.1f} in a flow of {flow:.1f}."
    return f"; outside any task {flow - tasks:.1f}."


if __name__ == "__main__":
    main()
