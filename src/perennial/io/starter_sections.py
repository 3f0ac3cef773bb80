"""The task-dependent parts of a starter config: the target, candidates, metrics and the gate's margins.

Margins are in the primary metric's own units. For a regression target those are the target's units,
so they are set from the table itself: a share of what a mean predictor gets wrong on it (its mean
absolute deviation), never a constant that would be nothing for prices and everything for ratios;
measured without a few target values far outside the rest (``core.target_extremes``), which are named.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from perennial.config import Monitoring
from perennial.core.estimators import default_candidates
from perennial.core.target import Labels, native
from perennial.core.target_extremes import BULK_SCALE, bulk_error, extreme_targets, mean_predictor_error
from perennial.core.task import DEFAULT_BASELINE, DEFAULT_METRICS, Task

SHOWN_CLASSES = 8
LIFT_SHARE, TRAIL_SHARE = 0.05, 0.01  # of the mean predictor's MAE, for regression margins
# how far above the bulk's scale (core/target_extremes.bulk_error) a mean predictor's MAE says a block of far
# values set it: heavy-tailed targets reach ~4x (lognormal sigma 1.5: 3.6x, Pareto 1.5: 3.4x), a month of
# x1000 values among 27 reached 256x
BULK_LIMIT = 10.0
RARE_OUTCOME = 0.1  # a binary outcome rarer than this seldom gets a probability above 0.5
RARE_CLASS_ROWS = 10  # a class with fewer rows leaves a holdout with one or none of them
MONITOR_SHARE = 0.05  # of the mean predictor's MAE: a rise in error that counts, once the interval confirms it
SMALL_TABLE = 2_000  # rows below which a fifth held out is too little evidence: hold out more
DEFAULT_EVIDENCE = (500, 20, 0.1)
Z95 = 1.96  # a 95% interval is this many standard errors either side
# a macro F1 over many classes varies more than one proportion on the same rows: 30 classes on 510
# holdout rows gave an interval 0.116 wide where a proportion's is 0.087 (init's own config, no model)
MACRO_WIDTH_FACTOR = 1.5
MONITORING_LABELS = (
    200  # config.Monitoring's min_labelled_rows  # config.MinEvidence's holdout rows, rows per class, interval width
)


def quoted(value: Any) -> str:
    """A YAML double-quoted scalar (JSON's), non-ASCII names kept as written: 'espèce', not 'esp\\u00e8ce'."""
    return json.dumps(value, ensure_ascii=False)


def positive_rate(values: pd.Series, labels: Labels) -> float:
    """The share of labelled rows that are positive: rows not labelled yet are neither (counted as
    negatives, 30% unlabelled read a 50% positive rate as 35%)."""
    return float((labels.encode(values.dropna()) == 1).mean())


def target_lines(task: Task, why: str, values: pd.Series, labels: Labels | None) -> list[str]:
    column = quoted(str(values.name))
    if task == "binary":
        assert labels is not None
        negative = quoted(labels.to_dict()["negative"])
        rate = positive_rate(values, labels)
        return [
            "  target:",
            f"    column: {column}",
            f"    positive_label: {quoted(labels.to_dict()['positive'])}   # the other value, {negative}, is"
            f" negative; positive rate {rate:.1%}",
        ]
    if task == "multiclass":
        counts = values.value_counts()
        shown = ", ".join(f"{quoted(native(k))}: {n}" for k, n in counts.head(SHOWN_CLASSES).items())
        more = f", ... {len(counts) - SHOWN_CLASSES} more" if len(counts) > SHOWN_CLASSES else ""
        lines = [f"  target: {column}   # {len(counts)} classes, rows each: {{{shown}{more}}}"]
        rare = counts[counts < RARE_CLASS_ROWS]
        if len(rare):
            named = ", ".join(f"{quoted(native(k))} ({n})" for k, n in rare.items())
            lines.append(
                f"  # too few rows to learn or judge: {named}; their recall is not checked (the gate below asks "
                "no class minimum its rarest class cannot meet): merge each into another class, or gather more of its rows"
            )
        return lines
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    extremes = extreme_targets(values)
    return [
        f"  target: {column}   # a quantity: median {numbers.median():.4g}, range [{numbers.min():.4g},"
        f" {numbers.max():.4g}]",
        *([f"  # {extremes.describe()}: one in a holdout outweighs every other row's error"] if extremes else []),
    ]


def training_lines(task: Task, values: pd.Series, rows: int) -> list[str]:
    lines = ["training:", "  seed: 42", f"  baseline: {DEFAULT_BASELINE[task]}"]
    if rows > 200_000:
        lines.append("  max_train_rows: 200000")
    lines.append("  candidates:   # sized to the rows; an imbalanced multiclass target gets balanced class weights")
    for candidate in default_candidates(task, rows, values.dropna().to_numpy() if task == "multiclass" else None):
        params = ", ".join(f"{k}: {quoted(v)}" for k, v in candidate["params"].items())
        lines += [
            f"    - name: {candidate['name']}",
            f"      family: {candidate['family']}",
            f"      params: {{{params}}}",
        ]
    return lines


def evaluation_lines(task: Task, positive_rate: float | None = None) -> list[str]:
    primary, secondary = DEFAULT_METRICS[task]
    lines = [
        "evaluation:",
        f"  primary_metric: {primary}",
        f"  secondary_metrics: [{', '.join(secondary)}]",
        "  bootstrap: {resamples: 200, confidence: 0.95, seed: 7}",
        *_threshold_lines(positive_rate),
    ]
    cost = {
        "binary": [
            "  # What a decision is worth: fill in and uncomment to choose the threshold by expected cost",
            '  # cost: {false_positive: 1.0, false_negative: 1.0, unit: "cost units"}',
        ],
        "multiclass": [
            "  # What a wrong class costs: fill in and uncomment to report each candidate's expected cost "
            "(the served class stays the most probable)",
            '  # class_cost: {unit: "cost units", matrix: {<true class>: {<predicted class>: 1.0}}}',
        ],
        "regression": [
            "  # When under-prediction costs more than over-prediction: uncomment to serve that quantile",
            '  # regression_cost: {under: 2.0, over: 1.0, unit: "cost units", shift_prediction: true}',
        ],
    }
    return lines + cost[task]


def _threshold_lines(rate: float | None) -> list[str]:
    """The 0.5 threshold said out loud where one outcome is rare: a model's probabilities then seldom
    cross it, and on 1.8% positives a passed model decided no row positive, served 'negative' to all."""
    if rate is None or RARE_OUTCOME <= rate <= 1 - RARE_OUTCOME:
        return []
    rare, reach, move = ("positive", "reach", "lower") if rate < RARE_OUTCOME else ("negative", "fall below", "raise")
    return [
        f"  # positive rate {rate:.1%}: a model's probabilities may never {reach} 0.5, and at this threshold it",
        f"  # then decides no row {rare}; fill in the cost block below to choose the threshold by expected cost,",
        f"  # or {move} it here",
        "  threshold: 0.5",
    ]


def gate_margin_lines(task: Task, values: pd.Series) -> list[str]:
    if task != "regression":
        return [
            "  min_lift_over_baseline: 0.05     # the candidate must beat a model that ignores the features",
            "  max_regression_vs_champion: 0.01 # and may trail the champion by at most this (paired bootstrap)",
        ]
    spread, on = _target_scale(values)
    lift, trail = _round(LIFT_SHARE * spread), _round(TRAIL_SHARE * spread)
    return [
        f"  # in the target's units: a mean predictor's MAE on {on}",
        f"  min_lift_over_baseline: {lift}   # MAE below the mean predictor's, {LIFT_SHARE:.0%} of it",
        f"  max_regression_vs_champion: {trail}   # MAE the candidate may trail the champion by, {TRAIL_SHARE:.0%}",
    ]


def _target_scale(values: pd.Series) -> tuple[float, str]:
    """A mean predictor's MAE, and the rows it is measured on: a few far-out targets would set it alone
    (5 in 2,600 made it 10x the rest's, and init's own config failed its gate). A block of them, more than
    ``extreme_targets`` leaves out (a month in other units), gives way to the bulk's robust scale."""
    extremes = extreme_targets(values)
    spread = mean_predictor_error(values, extremes)
    bulk = bulk_error(values)
    if bulk > 0 and spread > BULK_LIMIT * bulk:  # one month of x1000 targets (3.7% of rows) wrote a lift of 185
        return bulk, (
            f"the bulk of this table is {bulk:.4g} (median absolute deviation x{BULK_SCALE}; with every row "
            f"{spread:.4g}, which far-out values set: check the target's largest values)"
        )
    if extremes is None:
        return spread, f"this table is {spread:.4g}"
    rows = f"{len(extremes.rows)} far-out row{'s' if len(extremes.rows) > 1 else ''}"
    return spread, f"this table without its {rows} is {spread:.4g} ({mean_predictor_error(values):.4g} with them)"


def _round(value: float) -> Any:
    return float(f"{value:.3g}") if value > 0 else 0.0


def holdout_share(rows: int) -> float:
    return 0.3 if rows < SMALL_TABLE else 0.2


def evidence_lines(task: Task, values: pd.Series, share: float, held: pd.Series | None = None) -> list[str]:
    """What a table of this size can give as evidence, when it is less than the defaults ask.

    The hash split holds each row out with probability ``share``, so a holdout's size varies with
    the draw: ask for the count that a draw falls below only rarely (``_assured``), and never more
    than the split gives this very table (``held``, the targets it holds out), since identical rows
    share a side and move the holdout in lumps: 124 distinct rows of 1,500 gave 395 where 405 was
    asked (inconclusive, no champion). The interval width is the widest the primary metric's 95%
    interval gets on those rows (``interval_width``).
    """
    rows_default, per_class_default, width_default = DEFAULT_EVIDENCE
    present = values.dropna()
    counts = present.value_counts()
    # judged on the count a draw falls below only rarely, not the expected one: 100 positives with 20%
    # held out expect 20, the default, and the hash split's draw gave 17 (inconclusive, no champion)
    sure = counts.map(lambda n: _assured(int(n), share, floor=0))
    assured = _assured(len(present), share)
    if held is not None:
        sure = sure.combine(held.value_counts().reindex(counts.index, fill_value=0), min)
        assured = min(assured, len(held))
    lines = []
    if task != "regression" and (width := interval_width(task, sure, assured)) > width_default:
        lines.append(f"    max_interval_width: {width}   # {_width_why(task, sure, width)}")
    if assured < rows_default:
        lines.insert(0, f"    holdout_rows: {assured}")
    if task != "regression":
        rarest = counts[sure == sure.min()].idxmin()  # of the classes least assured, the one with fewest rows
        if sure[rarest] < per_class_default:
            holds = f"~{counts[rarest] * share:.0f}"
            lines.append(_class_floor_line(int(sure[rarest]), native(rarest), holds, len(counts)))
    if not lines:
        return []
    size = (
        f"the split holds out {len(held):,} rows of this table"
        if held is not None
        else f"this table holds about {int(len(present) * share):,} holdout rows"
    )
    return [f"  min_evidence:   # {size}; a verdict on less is inconclusive", *lines]


def _class_floor_line(per_class: int, name: Any, holds: str, classes: int) -> str:
    """The rows_per_class line: 0 when even one row of the rarest class is not assured: asking for 1
    made the first training a coin toss (5 rows of wine quality 9, ~1 held out: 0 drawn, no model)."""
    way_on = "merge rare classes or gather more rows" if classes > 2 else "gather more rows"  # two: none to merge
    too_few = (
        ""
        if per_class >= 3
        else ": too few to judge its recall" + (", so no class minimum" if per_class == 0 else "") + f"; {way_on}"
    )
    return f"    rows_per_class: {per_class}   # the rarest class, {name!r}, holds {holds}{too_few}"


def interval_width(task: Task, sure: pd.Series, rows: int) -> float:
    """The widest 95% interval of the primary metric init writes, on the ``rows`` a holdout assures
    and the rows of each class it assures (``sure``).

    A binary target's ROC AUC rests on its positives and negatives, not its rows: Hanley and McNeil's
    variance at AUC 0.5 (the widest), with each class's assured count. A proportion's interval on the
    rows was 0.11 where a first model's AUC interval on an imbalanced table was 0.122 (no model).
    """
    primary = DEFAULT_METRICS[task][0]
    if primary == "roc_auc" and len(sure) == 2:
        positives, negatives = (max(1, int(n)) for n in sure)
        variance = (0.25 + (positives + negatives - 2) / 12) / (positives * negatives)
    else:
        factor = MACRO_WIDTH_FACTOR if primary == "macro_f1" else 1.0
        variance = factor**2 * 0.25 / rows
    return min(1.0, math.ceil(100 * 2 * Z95 * math.sqrt(variance)) / 100)


def _width_why(task: Task, sure: pd.Series, width: float) -> str:
    if DEFAULT_METRICS[task][0] == "roc_auc" and len(sure) == 2:
        (rare, rare_name), (common, common_name) = sorted(
            ((max(1, int(n)), native(k)) for k, n in sure.items()), key=lambda pair: pair[0]
        )
        # 'labelled': bare 0/1 labels beside the counts read as one run of numbers ('the 6 1 and 722 0 rows')
        return (
            f"a 95% ROC AUC interval can be this wide on the {rare:,} {'row' if rare == 1 else 'rows'} labelled "
            f"{quoted(rare_name)} and {common:,} labelled {quoted(common_name)} that nearly every draw of the "
            "holdout holds" + _vacuous(width)
        )
    return "a 95% interval on this many rows can be this wide" + _vacuous(width)


def _vacuous(width: float) -> str:
    """Said where the widest interval is the whole scale: the gate then cannot refuse on width."""
    return " (1.0: so few rows that no width is refused; gather more to make this check count)" if width >= 1 else ""


def _assured(rows: int, share: float, floor: int = 3) -> int:
    """Rows of ``rows`` a hash split with ``share`` holds out, but for about one draw in 160 (2.5 sd)."""
    expected, spread = rows * share, math.sqrt(rows * share * (1 - share))
    return max(floor, int(expected - 2.5 * spread))


WINDOW_DAYS = {"day": 1, "week": 7, "month": 30}


def monitoring_window(rows_per_day: float, enough: int = MONITORING_LABELS) -> tuple[str, str]:
    """The shortest window that holds ``enough`` rows at the data's pace (a month when none does),
    and why: a week of hourly rows holds 168, too few to judge drift or performance on."""
    for name, days in WINDOW_DAYS.items():
        if rows_per_day * days >= enough:
            return name, f"the shortest window holding {enough:,} rows (~{rows_per_day * days:,.0f} at the data's pace)"
    return "month", f"~{rows_per_day * 30:,.0f} rows a month, fewer than the {enough:,} a window is judged on"


def _drift_floor_lines(rows: int, batches: bool, rows_per_day: float | None) -> list[str]:
    """The drift floor said out loud where no window of this table reaches it. Not lowered to fit: a
    distance over a few dozen rows is mostly their noise, and a verdict on noise asks for retrains."""
    floor = Monitoring.model_fields["min_drift_rows"].default
    window = rows if batches else (rows_per_day or 0) * WINDOW_DAYS["month"]
    if window >= floor:
        return []
    held = f"this table has {rows:,} rows" if batches else f"a month holds ~{window:,.0f} rows"
    return [
        f"  min_drift_rows: {floor}   # drift is not judged on a window of fewer rows (its distances are mostly",
        f"  # noise): {held}, so its windows are measured and reported but not judged on drift",
    ]


def monitoring_lines(
    task: Task, values: pd.Series, share: float, batches: bool, rows_per_day: float | None = None
) -> list[str]:
    """Without a time column each scoring is a window (``batches``); with one, the shortest window
    holding enough rows; a small table's windows hold few labels: judge them on what its holdout
    could give. A regression's drop is in the target's units."""
    present = len(values.dropna())
    lines = ["  window: batch   # no time column: each `perennial score` is a window of its own"] if batches else []
    if not batches and rows_per_day is not None:
        window, why = monitoring_window(rows_per_day)
        lines.append(f"  window: {window}   # {why}")
    if present * share < MONITORING_LABELS:
        lines.append(
            f"  min_labelled_rows: {_assured(present, share)}   # a window judged on fewer labels says 'too few labels'"
        )
    lines += _drift_floor_lines(len(values), batches, rows_per_day)
    if task == "regression":
        tolerance = _round(MONITOR_SHARE * _target_scale(values)[0])
        lines += [
            "  retraining:",
            f"    performance_tolerance: {tolerance}   # error above the champion's holdout figure that counts "
            f"as a drop, {MONITOR_SHARE:.0%} of the mean predictor's MAE written under gate",
        ]
    return ["monitoring:", *lines] if lines else []
