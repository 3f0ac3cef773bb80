"""Scenarios with a known truth: the closed loop replayed on data where we put the change, and counted.

    .venv/bin/python -m bench.scenarios            # the demo's 2013 flights, six month windows; writes docs/scenarios.md
    .venv/bin/python -m bench.scenarios --quick    # a 10% sample of them, four windows; nothing written

The demo's rows get their times shuffled among them first (core/scenarios.py `stationary`): every
window is then drawn from one distribution, so that the only change the loop can meet is the one a
scenario injects, and its truth is known. Each scenario trains a champion (January-May, June held
out, configs/flights.yaml), injects its change into the data from the second replayed window on,
and replays month windows from July through the real loop (flows/simulate.py inline: batch scoring,
monitoring, the retrain policy and drift episodes, the training flow and its gate, promotion). The
counts are read from the replay's rows against the truth (core/scenarios.py `count_scenario`).
Scenario 6 calls the training flow directly: a challenger trained on a 2% sample against a champion
trained on all rows, then the other way round (the weak champion put in place with the gate off).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench._common import ROOT, commit, load_average, throwaway_state

DOC = ROOT / "docs" / "scenarios.md"
DRIFT_AND_DROP = {"drift_needs_drop": True}  # drift retrains only when performance drops (measured, or CBPE)
DRIFT_ALONE = {"drift_needs_drop": False}  # the default: drift alone asks for a retrain


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a dataset puts what a scenario needs: its columns, the champion's split, the replay."""

    time_column: str
    target: str
    start: dt.date  # the first replayed window (the champion's holdout end)
    window: str  # "week" or "month"
    windows: int
    shift_columns: tuple[str, ...]  # resampled towards high values (covariate shift)
    group: tuple[str, object]  # (column, value) whose label rate changes (concept change)
    unit_column: str  # multiplied by 1.609 (a unit change inside its declared range)
    zero_column: str  # 0 on every row (a feed of zeros)
    thin_rows_per_day: float  # a tiny feed: about 30 labelled rows a window
    train_end: dt.date  # the champion's training end (rows from here on it never saw)

    def labels(self) -> list[str]:
        from perennial.core.windows import window_bounds

        out, start = [], self.start
        for _ in range(self.windows):
            window = window_bounds(self.window, start, None, start)
            out.append(window.label)
            start = window.end
        return out

    def at(self, index: int) -> pd.Timestamp:
        """The start of replayed window ``index`` (0: the first)."""
        from perennial.core.windows import window_bounds

        start = self.start
        for _ in range(index):
            start = window_bounds(self.window, start, None, start).end
        return pd.Timestamp(start, tz="UTC")


Inject = Callable[[pd.DataFrame, Plan], pd.DataFrame]


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    replay: Inject  # the data the replay meets (the champion trained on the data as it was)
    truth: Callable[[Plan], Any]  # -> core.scenarios.Truth
    expect: Any  # core.scenarios.Expectation
    policy: dict[str, Any] = field(default_factory=dict)  # monitoring.retraining overrides


def scenarios() -> list[Scenario]:
    from perennial.core import scenarios as s

    def seasonal(f: pd.DataFrame, p: Plan) -> pd.DataFrame:
        return s.covariate_shift(f, p.shift_columns, p.time_column, p.at(1), power=3.0)

    def abrupt(f: pd.DataFrame, p: Plan) -> pd.DataFrame:
        return s.concept_change(f, p.target, *p.group, p.time_column, p.at(1), rate=0.6)

    def gradual(f: pd.DataFrame, p: Plan) -> pd.DataFrame:
        end = p.at(p.windows)
        shifted = s.covariate_shift(f, p.shift_columns, p.time_column, p.at(1), power=3.0, until=end)
        return s.concept_change(shifted, p.target, *p.group, p.time_column, p.at(1), rate=0.6, until=end)

    def bug(f: pd.DataFrame, p: Plan) -> pd.DataFrame:
        km = s.scaled(f, p.unit_column, 1.609, p.time_column, p.at(1), p.at(2))
        return s.zeroed(km, p.zero_column, p.time_column, p.at(2), p.at(3))

    def tiny(f: pd.DataFrame, p: Plan) -> pd.DataFrame:
        shifted = s.covariate_shift(f, p.shift_columns, p.time_column, p.at(1), power=3.0)
        start = pd.Timestamp(p.train_end, tz="UTC")  # the champion's unseen rows are few too
        return s.thinned(shifted, p.time_column, start, p.thin_rows_per_day)

    def changed(p: Plan, within: int = 2) -> Any:
        label = p.labels()[1]
        return s.Truth(changed_at=label, improvable_from=label, promote_within=within)

    return [
        Scenario(
            "1",
            "1 seasonal covariate shift, labels' relationship unchanged",
            seasonal,
            lambda p: s.Truth(),
            s.Expectation(retrains=0, promotions=0),
            DRIFT_AND_DROP,
        ),
        Scenario(
            "2",
            "2 abrupt concept change",
            abrupt,
            changed,
            s.Expectation(retrains=1, promotions=1),
            DRIFT_AND_DROP,
        ),
        Scenario(
            "3",
            "3 gradual drift (covariates and concept)",
            gradual,
            lambda p: changed(p, within=p.windows),
            s.Expectation(max_retrains_per_episode=1),
            DRIFT_AND_DROP,
        ),
        Scenario(
            "4",
            "4 data bug: unit change, then a feed of zeros",
            bug,
            lambda p: s.Truth(invalid=frozenset(p.labels()[1:3])),
            s.Expectation(retrains=0, promotions=0),
            DRIFT_ALONE,
        ),
        Scenario(
            "5",
            "5 tiny labelled windows (~30 rows), drifted",
            tiny,
            lambda p: s.Truth(),
            # ~30 rows a window: drift is not judged (monitoring.min_drift_rows), so nothing asks to retrain
            s.Expectation(retrains=0, promotions=0),
            DRIFT_ALONE,
        ),
    ]


def write_config(
    raw: dict[str, Any], folder: Path, key: str, policy: dict[str, Any], plan: Plan, **gate: Any
) -> tuple[str, str]:
    """A copy of ``raw`` reading scenario ``key``'s own data file, with its own model; (config path, data path)."""
    config = yaml.safe_load(yaml.safe_dump(raw))
    name = f"scenario-{key}"
    data = folder / f"{name}.parquet"
    config["name"] = name
    config["data"]["source"] = {"kind": "parquet", "path": str(data)}
    config["tracking"] = {"experiment": name, "registered_model": name}
    monitoring = config.setdefault("monitoring", {})
    monitoring["window"] = plan.window
    monitoring["retraining"] = {**monitoring.get("retraining", {}), **policy}
    config["gate"] = {**config.get("gate", {}), **gate}
    path = folder / f"{name}{'-' + '-'.join(gate) if gate else ''}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path), str(data)


def run_scenario(scenario: Scenario, frame: pd.DataFrame, plan: Plan, raw: dict[str, Any], folder: Path) -> Any:
    """Train a champion on ``frame``, inject the scenario, replay it through the loop; (counts, simulate rows)."""
    from flows.simulate import simulate_flow
    from flows.training import training_flow
    from perennial.core.scenarios import WindowRecord, count_scenario
    from perennial.io.monitor_store import MonitorStore
    from perennial.settings import load_settings

    config, data = write_config(raw, folder, scenario.key, scenario.policy, plan)
    frame.to_parquet(data, index=False)
    training_flow(config_path=config)
    scenario.replay(frame, plan).to_parquet(data, index=False)
    rows = simulate_flow(config_path=config, start=plan.start, windows=plan.windows, inline=True)
    store = MonitorStore(load_settings().ledger_url)
    try:
        episodes = store.episodes(f"scenario-{scenario.key}", limit=1000)
    finally:
        store.close()
    records = [WindowRecord.from_row(r) for r in rows]
    return count_scenario(scenario.title, records, scenario.truth(plan), [e.retrains for e in episodes]), rows


def run_challengers(frame: pd.DataFrame, plan: Plan, raw: dict[str, Any], folder: Path, share: float = 0.02) -> Any:
    """Scenario 6: a challenger trained on a ``share`` sample of the training rows against a champion
    trained on all of them, then the reverse (the weak champion put in place with the gate off).

    Returns [(counts, expectation)] for the worse challenger (never promoted) and the better one (promoted).
    """
    from perennial.core.scenarios import Expectation, Truth, sampled

    weak = sampled(frame, plan.time_column, pd.Timestamp(plan.train_end, tz="UTC"), share)
    worse = _challenge("6a", "6 worse challenger (2% sample) vs full champion", frame, weak, plan, raw, folder, Truth())
    label = str(plan.start)
    better = _challenge(
        "6b",
        "6 better challenger vs champion on a 2% sample",
        weak,
        frame,
        plan,
        raw,
        folder,
        Truth(changed_at=label, improvable_from=label, promote_within=1),
    )
    return [(worse, Expectation(promotions=0)), (better, Expectation(promotions=1))]


def _challenge(
    key: str,
    title: str,
    first: pd.DataFrame,
    second: pd.DataFrame,
    plan: Plan,
    raw: dict[str, Any],
    folder: Path,
    truth: Any,
) -> Any:
    """A champion put in place on ``first`` (gate off: even a weak one), then a retrain on ``second`` through the gate."""
    from flows.training import training_flow
    from perennial.core.events import DriftDetected
    from perennial.core.scenarios import WindowRecord, count_scenario
    from perennial.io.registry import CHAMPION, Registry
    from tasks.retrain_watch import training_verdict

    placed, data = write_config(raw, folder, key, {}, plan, mode="off")
    config_path, _ = write_config(raw, folder, key, {}, plan)
    first.to_parquet(data, index=False)
    training_flow(config_path=placed)
    second.to_parquet(data, index=False)
    registry = Registry(f"scenario-{key}")
    before = registry.alias_version(CHAMPION)
    state = training_flow(config_path=config_path, reason=DriftDetected.name, return_state=True)
    from perennial.config import load_config

    verdict = training_verdict(load_config(config_path), registry, str(state.state_details.flow_run_id))
    record = WindowRecord(
        window=str(plan.start),
        blocked=False,
        event=DriftDetected.name,
        retrained=True,
        gate=verdict["gate"],
        promoted=verdict["champion"] != before,
    )
    return count_scenario(title, [record], truth, [])


def table(results: list[tuple[Any, Any]]) -> list[str]:
    from perennial.core.scenarios import unmet

    header = [*results[0][0].row(), "as expected"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for counts, expected in results:
        missing = unmet(counts, expected)
        lines.append(
            "| "
            + " | ".join([*counts.row().values(), "yes" if not missing else "**no**: " + "; ".join(missing)])
            + " |"
        )
    return lines


def demo_plan(windows: int) -> Plan:
    return Plan(
        time_column="time_hour",
        target="delayed",
        start=dt.date(2013, 7, 1),
        window="month",
        windows=windows,
        shift_columns=("temp", "dewp", "humid"),  # summer weather, more of it
        group=("origin", "EWR"),
        unit_column="distance",
        zero_column="sched_dep_time",
        thin_rows_per_day=1.0,
        train_end=dt.date(2013, 6, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 10%% sample of the demo, four windows, nothing written")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/scenarios.md alone")
    args = parser.parse_args()
    state = throwaway_state("scenarios")
    from perennial.core.scenarios import stationary, unmet
    from perennial.io.demo_data import load_demo_frame

    demo, fraction = load_demo_frame(), 0.1 if args.quick else 1.0
    if args.quick:
        demo = demo.sample(frac=fraction, random_state=0)
    frame = stationary(demo, "time_hour", seed=0)
    plan = demo_plan(4 if args.quick else 6)
    raw = yaml.safe_load((ROOT / "configs" / "flights.yaml").read_text())
    started, results = dt.datetime.now(dt.UTC), []
    for scenario in scenarios():
        counts, rows = run_scenario(scenario, frame, plan, raw, state)
        results.append((counts, scenario.expect))
        print("\n".join(table([results[-1]])[2:]), flush=True)
        for row in rows:
            print("   ", " | ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    results += run_challengers(frame, plan, raw, state, share=0.02 / fraction)  # 2% of the demo's rows
    minutes = (dt.datetime.now(dt.UTC) - started).total_seconds() / 60
    lines = report(results, args.quick, len(frame), plan, minutes)
    print("\n".join(lines))
    if not (args.quick or args.no_write):
        DOC.write_text("\n".join(lines) + "\n")
    if any(unmet(counts, expected) for counts, expected in results):
        raise SystemExit("scenarios: the loop did not do what the truth asks (the 'as expected' column)")


def report(results: list[tuple[Any, Any]], quick: bool, rows: int, plan: Plan, minutes: float) -> list[str]:
    return [
        "# Scenarios with a known truth",
        "",
        f"`python -m bench.scenarios{' --quick' if quick else ''}` at commit {commit()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC ({minutes:.0f} min, 1-minute load {load_average()}): "
        f"{rows:,} rows of the demo's 2013 flights, their times shuffled among them so that every window is "
        f"drawn from one distribution; a champion trained January-May (June held out); {plan.windows} "
        f"{plan.window} windows replayed from {plan.start} through the loop (flows/simulate.py, inline), the "
        "change injected from the second window. Policy: configs/flights.yaml's (k=2 of n=3, cooldown 45 days), "
        "with `drift_needs_drop: true` in scenarios 1-3 and drift alone (the default) in 4-5; scenario 6's sample is 2% of the demo's training rows. How each is built: "
        "bench/scenarios.py; the counts: src/perennial/core/scenarios.py.",
        "",
        *table(results),
    ]


if __name__ == "__main__":
    main()
