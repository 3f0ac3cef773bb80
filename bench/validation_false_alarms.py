"""Validation false alarms: clean windows blocked, and data bugs still caught.

    .venv/bin/python -m bench.validation_false_alarms            # day, week and month windows
    .venv/bin/python -m bench.validation_false_alarms --quick    # week and month only

The contract is derived from the demo's January-May 2013 rows (configs/flights.yaml), its bounds
measured between windows of the size being validated; every window from July 1 to December 31 is
then validated as monitoring validates it (at the window's end, freshness and volume on, the
config's warnings). A clean window is *blocked* when a blocking rule breaks. The same windows are
judged by the rules as they were before (each column's pooled null share plus the margin, every
rule blocking) for comparison. Three injected bugs — distance in km and `sched_dep_time` 0 on every
row (both inside the declared ranges), and `temp` missing on 6 rows in 7 — are validated on the week
and month windows and must be blocked every time. Finally every case of the bad-input corpus (tests/reliability/corpus.py) must still
fail with its message. Counts, not timings: nothing here depends on the machine's speed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from bench._common import ROOT, commit, machine, write_results
from perennial.config import Config, load_config
from perennial.core.data import split_by_time
from perennial.core.validation import SuiteSpec, ValidationReport, derive_suite, validate_frame
from perennial.errors import PerennialError
from perennial.io.demo_data import load_demo_frame

REFERENCE = (pd.Timestamp("2013-01-01", tz="UTC"), pd.Timestamp("2013-06-01", tz="UTC"))
REPLAY = (pd.Timestamp("2013-07-01", tz="UTC"), pd.Timestamp("2014-01-01", tz="UTC"))
BUGS = {
    "distance in km": lambda f: f.assign(distance=f["distance"] * 1.609),
    "sched_dep_time all 0": lambda f: f.assign(sched_dep_time=0),
    # a feed that lost most of a column: every seventh row keeps its temperature
    "temp 86% missing": lambda f: f.assign(temp=f["temp"].where(f.index % 7 == 0)),
}


def windows(size: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Whole windows of ``size`` from July 1 (a Monday) to the end of the year."""
    step = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1)}[size]
    out, start = [], REPLAY[0]
    while start + step <= REPLAY[1]:
        out.append((start, start + step))
        start += step
    return out


def validate(frame: pd.DataFrame, suite: SuiteSpec, config: Config, end: pd.Timestamp, source: str) -> ValidationReport:
    freshness = config.validation.freshness
    return validate_frame(
        frame,
        suite,
        source=source,
        as_of=end.to_pydatetime(),
        freshness_hours=freshness.max_age_hours if freshness else None,
        volume=config.validation.volume,
        require_target=False,
        warnings=config.validation.warnings,
    )


def blocked_before(report: ValidationReport, frame: pd.DataFrame, reference: pd.DataFrame, config: Config) -> bool:
    """The verdict of the rules as they were: pooled null share + margin, every rule blocking, no new rules."""
    new = {"nulls", "all_null", "null_surge", "collapse", "unit_shift"}
    if any(not r.passed and r.kind not in new for r in report.results):
        return True
    for column in config.data.features.columns:
        if column in frame.columns and column in reference.columns:
            bound = min(1.0, round(float(reference[column].isna().mean()) + config.validation.null_margin, 6))
            if frame[column].isna().mean() > bound:
                return True
    return False


def replay(demo: pd.DataFrame, config: Config, size: str, bugs: bool) -> dict[str, Any]:
    sized = config.model_copy(update={"validation": config.validation.model_copy(update={"window": size})})
    reference = demo[(demo["time_hour"] >= REFERENCE[0]) & (demo["time_hour"] < REFERENCE[1])]
    suite = derive_suite(sized, reference)
    counts = {
        "size": size,
        "windows": 0,
        "blocked": 0,
        "blocked_before": 0,
        "warned": 0,
        "why": {},
        **{bug: 0 for bug in BUGS},
        "bug_windows": 0,
    }
    for start, end in windows(size):
        frame = demo[(demo["time_hour"] >= start) & (demo["time_hour"] < end)].reset_index(drop=True)
        report = validate(frame, suite, sized, end, f"{size} {start:%Y-%m-%d}")
        counts["windows"] += 1
        counts["blocked"] += not report.passed
        counts["warned"] += bool(report.warnings)
        counts["blocked_before"] += blocked_before(report, frame, reference, sized)
        for failure in report.failures:
            key = f"{failure.column or '(table)'} {failure.rule}"
            counts["why"][key] = counts["why"].get(key, 0) + 1
        if bugs:
            counts["bug_windows"] += 1
            for bug, inject in BUGS.items():
                counts[bug] += not validate(inject(frame), suite, sized, end, bug).passed
    return counts


def corpus() -> list[tuple[str, bool, str]]:
    """(case, failed with its kind and every needle, message) for every bad-input case."""
    from tasks.data import load_data_task
    from tests.reliability.corpus import CASES, EXTRA_COLUMN, good_frame

    good, out = good_frame(), []
    with tempfile.TemporaryDirectory() as tmp:
        reference_config = load_config(EXTRA_COLUMN(Path(tmp), good))
        suite = derive_suite(reference_config, split_by_time(good, reference_config)[0])
        for case in CASES:
            folder = Path(tmp) / case.id
            folder.mkdir()
            try:
                config_path = case.build(folder, good)
                config = load_config(config_path)
                frame, source = load_data_task.fn(config, config_path.parent)
                end = pd.Timestamp(dt.datetime.combine(config.split.holdout_end, dt.time(), tzinfo=dt.UTC))
                freshness = config.validation.freshness
                validate_frame(
                    frame,
                    suite,
                    source=source,
                    as_of=end.to_pydatetime(),
                    freshness_hours=freshness.max_age_hours if freshness else None,
                    volume=config.validation.volume,
                    warnings=config.validation.warnings,
                ).raise_if_failed()
                out.append((case.id, False, "accepted"))
            except PerennialError as exc:
                message = str(exc)
                ok = type(exc).__name__ == case.error and all(n in message for n in case.needles)
                out.append((case.id, ok, message))
    return out


def report(results: list[dict[str, Any]], cases: list[tuple[str, bool, str]], quick: bool, at: str) -> list[str]:
    lines = [
        "## Validation false alarms: clean windows blocked, bugs still caught",
        "",
        f"`python -m bench.validation_false_alarms{' --quick' if quick else ''}` on {dt.date.today().isoformat()}: the",
        "flights contract derived from January-May 2013, every whole window from July 1 to December 31 validated",
        "as monitoring validates it (freshness, volume, the config's warnings: "
        f"{', '.join(load_config(ROOT / 'configs' / 'flights.yaml').validation.warnings)}). *Before*: the same windows",
        "under the old rules (pooled null share + margin, every rule blocking). Goal: <= 1% of clean windows blocked.",
        "",
        *machine("pandas", "great_expectations", at=at),
        "",
        "| window | clean windows | blocked now | blocked before | passed with warnings | "
        + " | ".join(f"{bug} blocked" for bug in BUGS)
        + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(BUGS),
    ]
    for r in results:
        share = lambda n, r=r: f"{n} ({n / r['windows']:.1%})"  # noqa: E731
        bugs = [f"{r[b]} of {r['bug_windows']}" if r["bug_windows"] else "-" for b in BUGS]
        lines.append(
            f"| {r['size']} | {r['windows']} | {share(r['blocked'])} | {share(r['blocked_before'])} | "
            f"{share(r['warned'])} | {' | '.join(bugs)} |"
        )
    why = sorted({k for r in results for k in r["why"]})
    if why:
        per_rule = [k + ": " + ", ".join(f"{r['size']} {r['why'][k]}" for r in results if k in r["why"]) for k in why]
        lines += ["", "Clean windows blocked now, by rule: " + "; ".join(per_rule)]
    caught = sum(ok for _, ok, _ in cases)
    lines += ["", f"Bad-input corpus: {caught} of {len(cases)} cases fail with their kind and every expected phrase."]
    lines += [f"- `{case}` NOT caught as expected: {message[:200]}" for case, ok, message in cases if not ok]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="week and month windows only")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    at = commit()  # the code measured: read before the run, which later commits may pass
    config = load_config(ROOT / "configs" / "flights.yaml")
    demo = load_demo_frame()
    results = []
    for size in ("week", "month") if args.quick else ("day", "week", "month"):
        results.append(replay(demo, config, size, bugs=size != "day"))
        print({k: v for k, v in results[-1].items()}, flush=True)
    cases = corpus()
    lines = report(results, cases, args.quick, at)
    print("\n".join(lines))
    if not args.no_write:
        write_results("validation_false_alarms", lines)
    # counts, not times: a bug let through or a corpus case not caught fails the run (and bench-quick in CI)
    missed = [f"{b} in {r['size']}" for r in results for b in BUGS if r["bug_windows"] and r[b] < r["bug_windows"]]
    missed += [case for case, ok, _ in cases if not ok]
    if missed:
        raise SystemExit(f"not blocked as expected: {', '.join(missed)}")


if __name__ == "__main__":
    main()
