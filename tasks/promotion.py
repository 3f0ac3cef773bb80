"""Register the gated candidate and move aliases; every move lands in the ledger."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from perennial.config import Config
from perennial.core.evidence import Verdict
from perennial.core.gates import GateReport
from perennial.core.lifecycle import TrainingOutcome
from perennial.core.names import Tag
from perennial.errors import GateInconclusive
from perennial.io.ledger import Ledger
from perennial.io.registry import CHALLENGER, CHAMPION, Registry, move_alias
from perennial.settings import Settings
from tasks.common import IO_RETRIES, fault_point, flow_run_id


@task(name="register-and-promote", cache_policy=NO_CACHE, **IO_RETRIES)
def register_task(
    model_uri: str,
    candidate_run_id: str,
    report: GateReport,
    config: Config,
    registry: Registry,
    settings: Settings,
    run_id: str,
    lineage: dict[str, str],
) -> TrainingOutcome:
    """New version → `challenger`; → `champion` only when the gate allows it.

    An enforced gate that fails leaves the version registered (for inspection) but never
    champion. dry-run and off promote regardless: the report is advice there. With
    ``gate.promotion: manual`` the version stays challenger (shadow, canary, then `perennial promote`).
    A new challenger starts with no release mode: services use it as their config says.
    """
    verdict = report.verdict.value
    tags = {
        **lineage,
        Tag.TRAINING_RUN: run_id,
        Tag.CANDIDATE_RUN: candidate_run_id,
        Tag.VERSION_FLOW_RUN: flow_run_id(),
        Tag.CONFIG_HASH: config.fingerprint(),
        Tag.GATE: verdict,
        Tag.GATE_MODE: config.gate.mode,
    }
    fault_point("register")  # test hooks (tasks/common.py): killed before, during and after registering
    version = registry.register(model_uri, candidate_run_id, tags)
    fault_point("alias")
    ledger = Ledger(settings.ledger_url)
    try:
        move_alias(registry, ledger, CHALLENGER, version, "challenger", f"trained by run {run_id}", run_id, verdict)
        registry.set_release_mode(None)
        promote = (report.passed or config.gate.mode != "enforced") and config.gate.promotion == "auto"
        fault_point("champion")
        if promote:
            reason = "gate passed" if report.passed else f"gate {verdict} in {config.gate.mode} mode"
            move_alias(registry, ledger, CHAMPION, version, "promote", reason, run_id, verdict)
    finally:
        ledger.close()
    return TrainingOutcome(
        run_id=run_id,
        candidate=report.candidate,
        version=version,
        gate_passed=report.passed,
        promoted=promote,
        champion_version=registry.alias_version(CHAMPION),
        summary=report.summary(),
        verdict=verdict,
    )


@task(name="load-version", cache_policy=NO_CACHE, **IO_RETRIES)
def load_version_task(registry: Registry, version: str) -> tuple[str, object]:
    return f"candidate:v{registry.info(version).version}", registry.load(version)


@task(name="promote-version", cache_policy=NO_CACHE, **IO_RETRIES)
def promote_version_task(
    version: str,
    report: GateReport | None,
    registry: Registry,
    settings: Settings,
    run_id: str,
    force_reason: str | None,
) -> str:
    """Move `champion` to ``version``: through a passing gate, or forced with a recorded reason."""
    if force_reason is None and report is not None:
        report.raise_if_failed()
        if report.verdict is Verdict.INCONCLUSIVE:
            raise GateInconclusive(report)
    ledger = Ledger(settings.ledger_url)
    try:
        action = "force" if force_reason else "promote"
        gate = None if report is None else report.verdict.value
        reason = force_reason or f"gate passed (run {run_id})"
        move_alias(registry, ledger, CHAMPION, version, action, reason, run_id, gate)
        if registry.release_mode() not in (None, CHAMPION):
            registry.set_release_mode(CHAMPION)  # the release is done: services serve the new champion alone
    finally:
        ledger.close()
    return version
