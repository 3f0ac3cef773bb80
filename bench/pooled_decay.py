"""Pooled drops: how soon the retraining policy acts on a slow decay, and how often on label noise alone.

    .venv/bin/python -m bench.pooled_decay            # 2,000 steady series, 500 decays a slope
    .venv/bin/python -m bench.pooled_decay --quick    # 200 and 50, nothing written

A window's AUC is drawn around the champion's live level with the noise of its labels (standard error
0.02: about 800 rows; 0.03: about 350), its 95% interval ±1.96 se, the champion's holdout interval
starting 0.01 below its 0.80. Each series is monitored window by window through `decide_retrain`
with the default policy (tolerance 0.03, k=2 of n=3): once as it runs, the last n windows' labels
pooled (`core/retraining.py` pool_drops), once with each window judged on its own labels alone.
Reported: the share of 12-window steady series in which a retrain was asked (a false alarm), and for
decays of 0.003, 0.006 and 0.01 AUC a window the median window (0-based) of the first retrain among the
decays acted on, and in brackets how many were never acted on within 24 windows. Seeded: the same figures on every machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from statistics import median

import numpy as np

from bench._common import machine, parse_args, publish
from perennial.config import Retraining
from perennial.core.retraining import WindowVerdict, decide_retrain

POLICY = Retraining(performance_tolerance=0.03, k=2, n=3)
LEVEL = 0.80  # the champion's holdout AUC; its interval's low end is 0.01 below
STEADY_WINDOWS, DECAY_WINDOWS = 12, 24
ERRORS = (0.02, 0.03)
SLOPES = (0.003, 0.006, 0.01)
NOW = dt.datetime(2013, 8, 1, tzinfo=dt.UTC)


def labelled(name: str, value: float, reach: float, champion: str = "3", reference: float = LEVEL) -> WindowVerdict:
    """A window's AUC ``value`` ± ``reach`` judged against a champion whose holdout interval starts 0.01 below."""
    bound = reference - 0.01
    return WindowVerdict(
        name,
        0.0,
        reference - value,
        True,
        performance_sure_drop=bound - (value + reach),
        champion=champion,
        performance_spread=reach,
    )


def replay(values: list[float], reach: float, pooling: bool = True) -> int | None:
    """The first window (0-based) whose decision asks a retrain, monitoring the series window by window;
    without ``pooling`` each window carries no champion, so its labels are judged alone."""
    history: list[WindowVerdict] = []
    for i, value in enumerate(values):
        window = labelled(f"{i:03d}", value, reach)
        history.append(window if pooling else replace(window, champion=None))
        if decide_retrain("bench", history, POLICY, NOW, None, set()).retrain:
            return i
    return None


def main() -> None:
    args = parse_args(__doc__, "200 steady series and 50 decays a slope, nothing written")
    steady_runs, decay_runs = (200, 50) if args.quick else (2000, 500)
    lines = [
        "## Pooled drops: a slow decay acted on sooner, label noise seldom",
        "",
        *machine("numpy"),
        f"- {steady_runs:,} steady series of {STEADY_WINDOWS} windows and {decay_runs} decays of "
        f"{DECAY_WINDOWS} windows a slope and noise level, seed 0; the default policy (tolerance 0.03, k=2, n=3)",
        "",
        "| window AUC se | judged on | steady: retrain asked | "
        + " | ".join(f"decay {s}/window: first retrain (never)" for s in SLOPES)
        + " |",
        "|---|---|---|" + "---|" * len(SLOPES),
    ]
    for se in ERRORS:
        rng = np.random.default_rng(0)
        steady = [list(LEVEL + rng.normal(0, se, STEADY_WINDOWS)) for _ in range(steady_runs)]
        decays = {
            s: [[LEVEL - s * i + rng.normal(0, se) for i in range(DECAY_WINDOWS)] for _ in range(decay_runs)]
            for s in SLOPES
        }
        for pooling, name in ((True, "last n pooled"), (False, "each window alone")):
            alarms = sum(replay(series, 1.96 * se, pooling) is not None for series in steady)
            cells = []
            for s in SLOPES:
                first = [replay(series, 1.96 * se, pooling) for series in decays[s]]
                acted = [i for i in first if i is not None]
                cells.append(f"{median(acted) if acted else '-'} ({len(first) - len(acted)})")
            lines.append(f"| {se} | {name} | {alarms / steady_runs:.2%} | " + " | ".join(cells) + " |")
    publish("pooled_decay", lines, args)


if __name__ == "__main__":
    main()
