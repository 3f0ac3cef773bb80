"""`perennial doctor`: is the state consistent after crashes, kills and hand edits? How to repair it.

Checks, each finding saying what is wrong and how to repair it (``repair=True`` applies the
safe repairs itself):

* aliases vs ledger: where the registry's ``champion``/``challenger`` point must be where the
  ledger's last move put them. A process killed between moving an alias and writing the
  ledger leaves the registry ahead; the repair records the registry's position in the ledger
  (action ``reconcile``). An alias the ledger knows but the registry lost is set back.
* interrupted registrations: a version with no alias and no ledger entry, registered by a run
  that was killed before it moved an alias. It is tagged ``perennial.interrupted`` so it is
  never taken for a candidate; a re-run trains a new one.
* prediction partitions (Parquet store): staging folders and hidden temporary files that a
  killed writer left, unreadable part files, duplicate ids in a batch partition (within one scoring
  where the table has no time column: there each `perennial score` adds its batch to the day's).
* the champion's artifacts: its data contract (``validation/suite.json``) and the drift
  reference statistics (``REFERENCE_STATS_ARTIFACT``) on its training run.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

# the artifacts' names, not reference_store: reading them needs the drift statistics (scipy,
# scikit-learn), and the doctor only asks whether they are there
from perennial.core.names import Alias, Artifact, Tag
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import ParquetPredictionStore
from perennial.io.registry_view import RegistryView, open_view

if TYPE_CHECKING:  # MLflow is imported only when its client must answer (io/registry_view.py)
    from mlflow.tracking import MlflowClient

    from perennial.io.registry import Registry

CHAMPION, CHALLENGER = Alias.CHAMPION, Alias.CHALLENGER

SUITE_ARTIFACT = Artifact.SUITE
REFERENCE_STATS_ARTIFACT = Artifact.REFERENCE_STATS
INTERRUPTED_TAG = Tag.INTERRUPTED
ALIASES = (CHAMPION, CHALLENGER)


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # aliases | versions | predictions | champion
    problem: str
    repair: str  # what to do (or what --repair did)
    repairable: bool = False  # doctor --repair can do it
    repaired: bool = False


@dataclass(frozen=True, slots=True)
class DoctorReport:
    model: str
    checks: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def healthy(self) -> bool:
        """No finding is left unrepaired."""
        return all(f.repaired for f in self.findings)


def diagnose(
    model: str,
    ledger_url: str,
    store_path: Path | None,
    *,
    repair: bool = False,
    scorings_accumulate: bool = False,
    tracking_uri: str | None = None,
) -> DoctorReport:
    """Run every check on one registered model's state; with ``repair`` apply the safe repairs.

    ``scorings_accumulate``: the table has no time column, so a day's batch partition holds every
    scoring of that day, the same rows again in each (core/scoring.py stamps a batch with one time).
    ``tracking_uri``: checks alone read a SQLite store there directly (io/registry_view.py); repairs,
    and any other store, go through MLflow's client, which the caller has pointed at the store.
    """
    view = open_view(tracking_uri, model) if tracking_uri is not None and not repair else None
    registry: Registry | RegistryView
    listed: Callable[[str, tuple[str, ...]], set[str] | None]
    if view is not None:
        registry, listed = view, view.artifact_paths
    else:
        registry, listed = _mlflow_registry(model, tracking_uri)
    ledger = Ledger(ledger_url)
    try:
        findings = [*check_aliases(registry, ledger, repair), *check_versions(registry, ledger, repair)]
        findings += check_champion_artifacts(registry, listed, tracking_uri)
    finally:
        ledger.close()
        if view is not None:
            view.close()
    checks = ["aliases vs ledger", "interrupted registrations", "champion artifacts"]
    if store_path is not None:
        findings += check_predictions(ParquetPredictionStore(store_path), repair, scorings_accumulate)
        checks.append("prediction partitions")
    return DoctorReport(model, tuple(checks), tuple(findings))


def _mlflow_registry(
    model: str, tracking_uri: str | None = None
) -> tuple[Registry, Callable[[str, tuple[str, ...]], set[str] | None]]:
    """The registry and the artifact listing through MLflow's client (at ``tracking_uri``, when given)."""
    from perennial.io import tracking
    from perennial.io.registry import Registry

    if tracking_uri is not None:
        tracking.point_at(tracking_uri)
    client = tracking.client()
    return Registry(model, client), lambda run_id, wanted: _artifact_paths(client, run_id, wanted)


def _writable(registry: Registry | RegistryView) -> Registry:
    """The registry a repair writes through (``diagnose`` opens no read-only view to repair)."""
    assert not isinstance(registry, RegistryView), "repairs go through MLflow's client"
    return registry


def _ledger_position(ledger: Ledger, model: str, alias: str) -> str | None:
    """Where the ledger's last move put ``alias`` (release-mode notes do not move it)."""
    for entry in ledger.history(model, alias=alias, limit=1000):
        if not entry.action.startswith("release"):
            return entry.version
    return None


def check_aliases(registry: Registry | RegistryView, ledger: Ledger, repair: bool = False) -> list[Finding]:
    findings = []
    for alias in ALIASES:
        actual, recorded = registry.alias_version(alias), _ledger_position(ledger, registry.name, alias)
        if actual == recorded:
            continue
        if actual is not None:
            problem = (
                f"'{alias}' is v{actual} in the registry but the ledger's last move says "
                f"{'v' + recorded if recorded else 'nothing'}: the alias moved without its ledger entry "
                "(a run killed between the two, or a hand edit in MLflow)"
            )
            fix = (
                f"record v{actual} as '{alias}' in the ledger (action 'reconcile'); to undo the move instead, "
                f"run `perennial promote {recorded} --force --reason ...`"
                if recorded
                else f"record v{actual} as '{alias}' in the ledger (action 'reconcile')"
            )
            if repair:
                ledger.record(
                    registry.name,
                    alias,
                    actual,
                    recorded,
                    "reconcile",
                    "perennial doctor: ledger followed the registry",
                )
            findings.append(Finding("aliases", problem, fix, True, repair))
        else:
            problem = f"'{alias}' is unset in the registry but the ledger says v{recorded}"
            fix = f"set '{alias}' back to v{recorded}, as the ledger says"
            assert recorded is not None  # actual is None here and differs from it
            if repair:
                _writable(registry)._set_alias(alias, recorded)  # the ledger already holds this move
            findings.append(Finding("aliases", problem, fix, True, repair))
    return findings


def check_versions(registry: Registry | RegistryView, ledger: Ledger, repair: bool = False) -> list[Finding]:
    """Versions that no alias move ever named: their registering run was interrupted."""
    named = {e.version for e in ledger.history(registry.name, limit=100_000)}
    aliased = set(registry.serving_state()[0].values())  # version search results carry no aliases
    findings = []
    for info in registry.versions():
        if info.version in aliased or info.version in named or INTERRUPTED_TAG in info.tags:
            continue
        run = info.training_run or "?"
        problem = f"v{info.version} (training run {run}) was registered but never got an alias: its run was interrupted"
        fix = (
            f"tag v{info.version} '{INTERRUPTED_TAG}' (kept for inspection); re-run the training flow for a new version"
        )
        if repair:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            _writable(registry).set_tag(info.version, INTERRUPTED_TAG, stamp)
        findings.append(Finding("versions", problem, fix, True, repair))
    return findings


def check_champion_artifacts(
    registry: Registry | RegistryView,
    listed: Callable[[str, tuple[str, ...]], set[str] | None],
    tracking_uri: str | None = None,
) -> list[Finding]:
    champion = registry.champion()
    if champion is None:
        return []
    version, run = champion.version, champion.training_run
    if not run:
        return [
            Finding(
                "champion",
                f"champion v{version} has no {Tag.TRAINING_RUN} tag: its lineage is lost",
                "promote a version trained by Perennial (`perennial promote N`) or retrain",
            )
        ]
    wanted = (SUITE_ARTIFACT, REFERENCE_STATS_ARTIFACT)
    have = listed(run, wanted)
    if have is None:  # artifacts off this machine (a remote store): MLflow's client lists them
        have = _mlflow_registry(registry.name, tracking_uri)[1](run, wanted) or set()
    findings = []
    if SUITE_ARTIFACT not in have:
        findings.append(
            Finding(
                "champion",
                f"champion v{version}: training run {run} has no {SUITE_ARTIFACT} (data contract)",
                "retrain (`perennial train`): new data would be judged against itself meanwhile",
            )
        )
    if REFERENCE_STATS_ARTIFACT not in have:
        findings.append(
            Finding(
                "champion",
                f"champion v{version}: training run {run} has no {REFERENCE_STATS_ARTIFACT} (drift reference)",
                "build the reference statistics of its training window and log them to that run, or retrain: "
                "monitoring cannot measure drift without them",
            )
        )
    return findings


def _artifact_paths(client: MlflowClient, run_id: str, wanted: tuple[str, ...]) -> set[str]:
    """Which of ``wanted`` are files on the run.

    Only their folders are listed: MLflow looks each listed folder up as a logged model too, so
    walking the whole tree (the model's files included) costs a query per folder.
    """
    folders = sorted({str(Path(path).parent) for path in wanted})
    listed = (client.list_artifacts(run_id, None if folder == "." else folder) for folder in folders)
    return {item.path for items in listed for item in items if not item.is_dir}


def check_predictions(
    store: ParquetPredictionStore, repair: bool = False, scorings_accumulate: bool = False
) -> list[Finding]:
    if not store.path.is_dir():
        return []
    findings = []
    for source_dir in sorted(p for p in store.path.iterdir() if p.is_dir()):
        for entry in sorted(source_dir.iterdir()):
            findings += _check_entry(store, source_dir, entry, repair, scorings_accumulate)
    return findings


def _check_entry(
    store: ParquetPredictionStore, source_dir: Path, entry: Path, repair: bool, scorings_accumulate: bool
) -> list[Finding]:
    where = f"{source_dir.name}/{entry.name}"
    if entry.name.startswith(".") and entry.name.endswith(".lock"):
        return []
    if entry.name.startswith(".") and (".tmp-" in entry.name or ".old-" in entry.name):
        if repair:
            shutil.rmtree(entry, ignore_errors=True)
        return [
            Finding(
                "predictions",
                f"{where}: a staging folder left by an interrupted partition write",
                f"delete {entry} (readers never see it; the partition beside it is whole)",
                True,
                repair,
            )
        ]
    if not (entry.is_dir() and entry.name.startswith("date=")):
        return [Finding("predictions", f"{where}: not a partition of this store", f"move {entry} out of {store.path}")]
    findings = []
    for file in sorted(entry.iterdir()):
        finding = _check_file(source_dir.name, entry, file, repair)
        if finding is not None:
            findings.append(finding)
    if source_dir.name == "source=batch":
        findings += _check_duplicates(store, source_dir, entry, scorings_accumulate)
    return findings


def _check_file(source: str, partition: Path, file: Path, repair: bool) -> Finding | None:
    where = f"{source}/{partition.name}/{file.name}"
    if file.name.startswith(".") and file.name.endswith(".tmp"):
        if repair:
            file.unlink(missing_ok=True)
        return Finding(
            "predictions",
            f"{where}: a half-written file left by an interrupted append",
            f"delete {file} (never read: hidden until complete)",
            True,
            repair,
        )
    if not file.name.endswith(".parquet"):
        return None
    try:
        pq.read_metadata(file)
    except Exception as exc:  # any unreadable footer is the finding itself
        if repair:
            file.rename(file.with_name(f".{file.name}.corrupt"))
        return Finding(
            "predictions",
            f"{where}: unreadable Parquet ({type(exc).__name__}): reads of this day fail",
            f"move it aside as .{file.name}.corrupt and re-score the day (`perennial score --start ...`)",
            True,
            repair,
        )
    return None


def _check_duplicates(
    store: ParquetPredictionStore, source_dir: Path, partition: Path, scorings_accumulate: bool
) -> list[Finding]:
    day = dt.date.fromisoformat(partition.name.removeprefix("date="))
    try:
        rows = store.read("batch", day, day + dt.timedelta(days=1))
    except Exception:  # an unreadable file is reported by _check_file
        return []
    # a re-run replaces a dated partition whole, so any id twice is one too many; without a time column
    # the day's scorings sit side by side, and only an id twice within one scoring is
    duplicated = int(rows.duplicated(["id", "scored_at"] if scorings_accumulate else ["id"]).sum())
    if not duplicated:
        return []
    if scorings_accumulate:
        return [
            Finding(
                "predictions",
                f"{source_dir.name}/{partition.name}: {duplicated:,} duplicate ids within one scoring",
                f"move {partition} aside and score again (`perennial score`): each scoring adds its own batch",
            )
        ]
    return [
        Finding(
            "predictions",
            f"{source_dir.name}/{partition.name}: {duplicated:,} duplicate ids in a batch partition",
            f"re-score the day (`perennial score --start {day} --end {day + dt.timedelta(days=1)}`): "
            "a batch re-run replaces the whole partition",
        )
    ]
