"""The closed loop, replayed window by window on the demo data: score → labels → monitor → event → retrain.

Each window: the champion scores it (batch scoring), its labels are in the source already (they
"arrive" when the window is monitored), monitoring measures drift and performance and applies the
policy, and a retrain event makes the training deployment's trigger start a training run on the
server (`perennial up` serves it); that run is gated like any other. ``inline=True`` runs the retrain
in this process instead (no server needed), with the parameters the trigger would have passed.

Run alone:  python -m flows.simulate --start 2013-07-01 --windows 6
"""

# No `from __future__ import annotations` here: Prefect builds each flow's parameter model from its
# annotations, and string annotations (`dt.date`) fail to resolve when a deployment runs the flow.

import datetime as dt
import re
from typing import Any

from prefect import flow

from flows import DEFAULT_CONFIG, command_line
from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.config import Config, TimeSplit, load_config
from perennial.core.episode_records import Episode
from perennial.core.events import RETRAIN_EVENTS
from perennial.core.evidence import Verdict
from perennial.core.windows import Window, window_bounds
from perennial.errors import ConfigError
from perennial.io.registry import CHAMPION, Registry
from perennial.settings import load_settings
from tasks.common import publish_table
from tasks.data import data_span_task
from tasks.retrain_watch import training_verdict, wait_for_retrain_task


@flow(name="simulate", flow_run_name="simulate-x{windows}", log_prints=True)
def simulate_flow(
    config_path: str = DEFAULT_CONFIG,
    start: dt.date | None = None,
    windows: int = 6,
    inline: bool = False,
    retrain_timeout_s: float = 1800.0,
) -> list[dict[str, Any]]:
    """One row per window: drift share, performance, event, retrain run, gate verdict, champion version.

    The replay starts where the configured holdout ends (the first rows the champion never saw),
    unless ``start`` says otherwise; it needs rows in time, so a config without a time split is refused.
    """
    settings = load_settings()
    config = load_config(settings.root / config_path)
    if not isinstance(config.split, TimeSplit):
        raise ConfigError(
            f"{config_path}: simulate replays the data window by window in time; this config has no time column "
            "(data.time_column) and a hash split: score and monitor batches instead (perennial score, perennial monitor)"
        )
    _, last = data_span_task(config, settings.root)
    if start is None:
        start = config.split.holdout_end
        if start > last:  # `perennial init`'s split reaches the data's end: replay the holdout instead
            start = config.split.train_end
            print(
                f"the data ends on {last}, inside the holdout: replaying from {start}, rows the champion never trained on"
            )
    registry = Registry(config.tracking.registered_model)
    rows: list[dict[str, Any]] = []
    window = window_bounds(config.monitoring.window, start, None, start)
    for _ in range(windows):
        if window.start > last:
            print(f"the data ends on {last}: {len(rows)} window(s) replayed")
            break
        rows.append(_one_window(config_path, config, registry, window, inline, retrain_timeout_s))
        print(" | ".join(f"{k}: {v}" for k, v in rows[-1].items()))
        window = window_bounds(config.monitoring.window, window.end, None, window.end)
    publish_table(f"{config.name}-simulation", rows, f"The closed loop over {windows} windows from {start}")
    return rows


def _one_window(
    config_path: str, config: Config, registry: Registry, window: Window, inline: bool, timeout_s: float
) -> dict[str, Any]:
    row: dict[str, Any] = {"window": window.label}
    scored = batch_scoring_flow(config_path, window.start, window.end, return_state=True)
    since = dt.datetime.now(dt.UTC)
    # monitoring runs even when scoring refused the window: it judges the data and reports it
    state = monitoring_flow(config_path, window.start, window.end, return_state=True)
    if state.is_failed():
        invalid = "DataValidationFailed" in (state.message or "")  # monitoring sent perennial.data.invalid
        scoring = "scoring refused the window too; " if scored.is_failed() else ""
        return {
            **row,
            "decision": f"{scoring}monitoring FAILED: {failure_text(state.message)}",
            "event": "perennial.data.invalid" if invalid else "-",
            "champion": f"v{registry.alias_version(CHAMPION)}",
        }
    result = state.result()
    perf = result["performance"]
    row |= {
        "drift share": "-" if result["drift_share"] is None else round(result["drift_share"], 2),
        "performance": f"{perf['value']:.3f} [{perf['low']:.3f}, {perf['high']:.3f}] vs {_yardstick(perf)}"
        if perf
        else result["label_note"] or "not measured",
        "decision": result["decision"]["why"]
        + (f"; data warnings: {'; '.join(result['data_warnings'])}" if result.get("data_warnings") else "")
        + (f"; {result['calibration']}" if result.get("calibration") else ""),
        "event": result["event"] or "-",
        "episodes": _episode(result["episode"]),
    }
    if result["event"] in RETRAIN_EVENTS:
        # a second monitor of the same window (a schedule's re-run) must not ask for a second retrain
        repeat = monitoring_flow(config_path, window.start, window.end)
        row["repeat"] = f"{repeat['event'] or 'no event'}: {repeat['decision']['why']}"
        start = result["decision"]["train_start"]  # a retry on the newer windows learns from its episode's start
        bounds = (dt.date.fromisoformat(start) if start else None, window.start, window.end)
        retrain = _retrain(config_path, config, registry, bounds, result["event"], since, inline, timeout_s)
        row |= {"retrain": f"{retrain['run']} ({retrain['state']})", "gate": retrain["gate"]}
    before, after = result["champion_version"], registry.alias_version(CHAMPION)
    return {**row, "champion": f"v{before}" if after == before else f"v{before} → v{after}"}


def failure_text(message: str | None) -> str:
    """A failed flow's message without Prefect's "Flow run encountered an exception: <Error>: " lead:
    the CLI drops log lines naming an expected error (it prints the error once), and with the lead the
    window's line vanished from the log, leaving only the final table to say why it was refused."""
    return re.sub(r"^Flow run encountered an exception: \w+: ", "", message or "flow failed")


def _yardstick(perf: dict[str, Any]) -> str:
    """The champion's figure the window was judged against: "0.840", or "live level 0.840" (core/yardstick.py)."""
    reference = "-" if perf["reference"] is None else f"{perf['reference']:.3f}"
    return reference if perf.get("yardstick", "holdout") == "holdout" else f"{perf['yardstick']} {reference}"


def _episode(episode: dict[str, Any] | None) -> str:
    """The drift episode after the window, in the words `perennial status` uses."""
    if episode is None:
        return "-"
    return Episode(**{**episode, "calm": tuple(episode["calm"])}).describe()


def _retrain(
    config_path: str,
    config: Config,
    registry: Registry,
    bounds: tuple[dt.date | None, dt.date, dt.date],  # train start (None: the first row), train end, holdout end
    event: str,
    since: dt.datetime,
    inline: bool,
    timeout_s: float,
) -> dict[str, Any]:
    train_start, train_end, holdout_end = bounds
    if not inline:
        return wait_for_retrain_task(config, registry, since, holdout_end.isoformat(), timeout_s)
    state = training_flow(config_path, train_end, holdout_end, reason=event, train_start=train_start, return_state=True)
    verdict = training_verdict(config, registry, str(state.state_details.flow_run_id))
    # a run the gate stopped ends Failed by design (GateFailed, GateInconclusive): said as what it is, not a crash
    stopped = state.is_failed() and verdict["gate"] in (Verdict.FAILED, Verdict.INCONCLUSIVE)
    return {
        "run": f"train (inline) {holdout_end}",
        "state": f"stopped by the gate: {verdict['gate']}" if stopped else state.name,
        **verdict,
    }


if __name__ == "__main__":
    parser = command_line(__doc__)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=None, help="default: where the holdout ends")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument(
        "--inline", action="store_true", help="retrain in this process, not through the server's trigger"
    )
    args = parser.parse_args()
    simulate_flow(args.config, args.start, args.windows, args.inline)
