"""Validate the configured window against the data contract, without training.

Run alone:  python -m flows.validation --config configs/flights.yaml
"""

# No `from __future__ import annotations` here: Prefect builds each flow's parameter model from its
# annotations, and string annotations (`dt.date`) fail to resolve when a deployment runs the flow.

import datetime as dt

from prefect import flow

from flows import DEFAULT_CONFIG, command_line
from perennial.config import load_config
from perennial.core.validation import ValidationReport
from perennial.io.registry import Registry
from perennial.settings import load_settings
from tasks.data import encode_target_task, load_data_task
from tasks.runs import tracked_flow
from tasks.validation import earlier_quartiles_task, reference_suite_task, validate_task


@flow(name="validation", log_prints=True)
def validation_flow(
    config_path: str = DEFAULT_CONFIG, train_end: dt.date | None = None, holdout_end: dt.date | None = None
) -> ValidationReport:
    settings = load_settings()
    config = load_config(settings.root / config_path).with_split(train_end, holdout_end)
    registry = Registry(config.tracking.registered_model)
    with tracked_flow(config, settings, f"validate {config.split.label}", "validation", "manual") as (_, run_id):
        frame, source = load_data_task(config, settings.root)
        frame, _ = encode_target_task(frame, config, source)
        suite = reference_suite_task(config, registry, frame, run_id)
        earlier = earlier_quartiles_task(config, settings.ledger_url)  # as the training flow weighs them
        report = validate_task(frame, suite, config, source, run_id, earlier)
    print(report.summary())
    return report


if __name__ == "__main__":
    args = command_line(__doc__).parse_args()
    validation_flow(args.config)
