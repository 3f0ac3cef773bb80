"""Batch scoring: the `champion` (or another alias) scores a window into the prediction store.

Run alone:  python -m flows.batch_scoring --start 2013-07-01 --end 2013-07-02
"""

# No `from __future__ import annotations` here: Prefect builds each flow's parameter model from its
# annotations, and string annotations (`dt.date`) fail to resolve when a deployment runs the flow.

import datetime as dt
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows import DEFAULT_CONFIG, command_line
from perennial.config import load_config
from perennial.core.names import Tag
from perennial.io.preflight import with_new_rows
from perennial.io.registry import Registry
from perennial.settings import load_settings
from tasks.data import load_data_task
from tasks.runners import data_scheduler
from tasks.runs import tracked_flow
from tasks.scoring import (
    decision_threshold_task,
    load_model_task,
    record_scored_inputs_task,
    score_task,
    validate_scoring_input_task,
    write_predictions_task,
)
from tasks.scoring_partitions import open_window_task, score_partitions_task, validate_scoring_partitions_task


def _run_name() -> str:
    """score-<alias>-<what>: the first day, the new rows' file, or the holdout (no dates given); a run
    scoring a file was named "holdout" in every log line and in the dashboard."""
    params = flow_run.parameters
    data = params.get("data")
    scored = params.get("start") or (Path(str(data)).name if data else "holdout")
    return f"score-{params.get('alias', 'champion')}-{scored}"


@flow(name="batch-scoring", flow_run_name=_run_name, log_prints=True)
def batch_scoring_flow(
    config_path: str = DEFAULT_CONFIG,
    start: dt.date | None = None,
    end: dt.date | None = None,
    alias: str = "champion",
    data: str | None = None,
) -> int:
    """Score rows with start <= time < end (default: the config's holdout window).

    Without a time column every row of the source is scored, stamped with the scoring time.
    ``data``: a file of new rows to score instead of the config's source (labels optional), every
    row of it unless ``start``/``end`` are given.
    """
    settings = load_settings()
    config = load_config(settings.root / config_path)
    if data is not None:
        config = with_new_rows(config, Path(data))
    else:
        start = start or getattr(config.split, "train_end", None)
        end = end or getattr(config.split, "holdout_end", None)
    window = f"{start or ''}..{end or ''}" if config.data.time_column else "all rows"
    registry = Registry(config.tracking.registered_model)
    # the file scored, on the run: monitoring reads a batch's rows and labels from where they came
    scored = {Tag.SCORED_DATA: str(Path(data).resolve())} if data is not None else None
    with tracked_flow(config, settings, f"score {window}", "scoring", f"alias {alias}", extra_tags=scored) as (
        _,
        run_id,
    ):
        version, model, suite = load_model_task(registry, alias)
        threshold = decision_threshold_task(registry, version, config)
        if config.data.engine.kind == "dask":  # over partitions: the window is never in one frame
            with data_scheduler(config.data.engine) as scheduler:
                lazy, source = open_window_task(config, settings.root, start, end, new_rows=data is not None)
                validate_scoring_partitions_task(
                    lazy, suite, source, run_id, config.name, scheduler, config.validation.warnings
                )
                rows, days = score_partitions_task(
                    model, lazy, config, version, run_id, settings.root, scheduler, threshold
                )
        else:
            frame, source = load_data_task(config, settings.root, start, end, new_rows=data is not None)
            validate_scoring_input_task(frame, suite, source, run_id, config.name, config.validation.warnings)
            if data is not None:  # monitored later, the file must still hold these rows
                record_scored_inputs_task(frame, config, run_id)
            predictions = score_task(model, frame, config, version, run_id, threshold)
            rows, days = len(predictions), write_predictions_task(predictions, config, settings.root, run_id)
    print(f"v{version} scored {rows:,} rows into {len(days)} daily partitions")
    return rows


if __name__ == "__main__":
    parser = command_line(__doc__, "--start", "--end")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--data", default=None, help="a file of new rows to score instead of the config's source")
    args = parser.parse_args()
    batch_scoring_flow(args.config, args.start, args.end, args.alias, args.data)
