"""Promote a registered version: gate it against the champion on the configured holdout first.

Run alone:  python -m flows.promotion 3 [--force --reason "why"]
"""

# No `from __future__ import annotations` here: Prefect builds each flow's parameter model from its
# annotations, and string annotations (`dt.date`) fail to resolve when a deployment runs the flow.

from prefect import flow

from flows import DEFAULT_CONFIG
from perennial.config import load_config
from perennial.io.registry import Registry
from perennial.settings import load_settings
from tasks.data import encode_target_task, load_data_task, reach_back_task, split_task
from tasks.evaluation import champion_trained_through_task, evaluate_task, load_champion_task
from tasks.gate import gate_task
from tasks.promotion import load_version_task, promote_version_task
from tasks.runs import tracked_flow
from tasks.training import train_baseline_task


@flow(name="promotion", flow_run_name="promote-v{version}", log_prints=True)
def promotion_flow(version: str, config_path: str = DEFAULT_CONFIG, force_reason: str | None = None) -> str:
    settings = load_settings()
    config = load_config(settings.root / config_path)
    registry = Registry(config.tracking.registered_model)
    with tracked_flow(config, settings, f"promote v{version}", "promotion", force_reason or "manual") as (_, run_id):
        report = None
        if force_reason is None:
            frame, source = load_data_task(config, settings.root)
            frame, _ = encode_target_task(frame, config, source)
            config, span_note = reach_back_task(frame, config, run_id)
            train, holdout = split_task(frame, config)
            candidate = load_version_task(registry, version)
            comparison = evaluate_task(
                candidate,
                train_baseline_task(train, config).model,
                load_champion_task(registry),
                holdout,
                config,
                run_id,
                champion_trained_through_task(config),
                span_note,
            )
            report = gate_task(comparison, config, run_id)
        promote_version_task(version, report, registry, settings, run_id, force_reason)
    print(f"v{version} is now champion" + (f" (forced: {force_reason})" if force_reason else ""))
    return version


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("version")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--reason", help="with --force: why the gate is skipped (recorded in the ledger)")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    if args.force and not args.reason:
        parser.error("--force needs --reason")
    promotion_flow(args.version, args.config, args.reason if args.force else None)
