"""The MLflow model registry: versions, aliases (`champion`, `challenger`), lineage tags.

Every alias move goes through ``move_alias`` so that it is also written to the ledger.
"""

from __future__ import annotations

import json
from typing import Any, cast

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from perennial.core.names import RELEASE_MODES, Alias, Tag, release_action
from perennial.core.promotion import AliasMove, rollback_target
from perennial.errors import RegistryError
from perennial.io.ledger import Ledger, LedgerEntry
from perennial.io.registry_view import ModelRef, VersionInfo  # plain data, shared with the read-only view

CHAMPION, CHALLENGER = Alias.CHAMPION, Alias.CHALLENGER
# How running services use the challenger: a tag on the registered model, so every replica follows it
RELEASE_TAG = Tag.RELEASE
# The last event time a version trained on (ISO, UTC): a gate never judges it on rows up to then
TRAINED_THROUGH_TAG = "perennial.trained_through"


class Registry:
    """The registered model, and the questions flows ask of it. Built once per flow (or service)."""

    def __init__(self, name: str, client: MlflowClient | None = None) -> None:
        self.name = name
        self._given = client

    @property
    def _client(self) -> MlflowClient:
        # made on first use, after the flow has pointed MLflow at its tracking store
        if self._given is None:
            self._given = MlflowClient()
        return self._given

    def register(self, model_uri: str, run_id: str, tags: dict[str, Any]) -> str:
        """A new version of the registered model, tagged with its lineage."""
        try:
            self._client.get_registered_model(self.name)
        except MlflowException:
            self._client.create_registered_model(self.name)
        # A logged model's URI ("models:/m-…") must travel with its id: a tracking server
        # (REST store) rejects the source otherwise; the local SQL store does not check
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        version = self._client.create_model_version(
            self.name, model_uri, run_id=run_id, tags={k: str(v) for k, v in tags.items()}, model_id=model_id
        )
        return str(version.version)

    def alias_version(self, alias: str) -> str | None:
        try:
            return str(self._client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def training_run(self, version: str) -> str | None:
        """The training run of ``version`` (None when its lineage tag is missing)."""
        return self.info(version).training_run

    def at(self, alias: str) -> ModelRef | None:
        """The version ``alias`` points at, with its training run; None when the alias is unset."""
        version = self.alias_version(alias)
        return None if version is None else ModelRef(self.name, version, self.training_run(version))

    def champion(self) -> ModelRef | None:
        return self.at(CHAMPION)

    def require(self, alias: str) -> ModelRef:
        """Like ``at``, but a missing alias is an error that says what to do."""
        ref = self.at(alias)
        if ref is None:
            raise RegistryError(f"model '{self.name}' has no '{alias}' alias: train and promote a model first")
        return ref

    def info(self, version: str) -> VersionInfo:
        try:
            v = self._client.get_model_version(self.name, str(version))
        except MlflowException:
            raise RegistryError(f"model '{self.name}' has no version {version}") from None
        return VersionInfo(self.name, str(v.version), v.run_id, v.source, dict(v.tags), tuple(v.aliases))

    def trained_through(self, version: str) -> pd.Timestamp | None:
        """The last time ``version`` trained on: its tag, else its training run's split (older versions)."""
        info = self.info(version)
        if raw := info.tags.get(TRAINED_THROUGH_TAG):
            return pd.Timestamp(raw).tz_convert("UTC")
        run_id = info.tags.get("perennial.training_run_id")
        try:
            split = json.loads(self._client.get_run(run_id).data.params.get("split", "null")) if run_id else None
        except (MlflowException, ValueError):
            return None
        if not split or not split.get("train_end"):
            return None
        return pd.Timestamp(split["train_end"], tz="UTC") - pd.Timedelta(1, "ns")  # the split's end is exclusive

    def versions(self) -> list[VersionInfo]:
        try:
            found = self._client.search_model_versions(f"name = '{self.name}'")
        except MlflowException:
            return []
        infos = [
            VersionInfo(self.name, str(v.version), v.run_id, v.source, dict(v.tags), tuple(v.aliases)) for v in found
        ]
        return sorted(infos, key=lambda i: int(i.version))

    def serving_state(self) -> tuple[dict[str, str], str | None]:
        """Every alias and the release mode, in one registry call (services poll this)."""
        aliases, mode, _ = self.release_state()
        return aliases, mode

    def release_state(self) -> tuple[dict[str, str], str | None, int | None]:
        """Every alias, the release mode and the canary step outcomes allow (None: no limit set)."""
        try:
            model = self._client.get_registered_model(self.name)
        except MlflowException:
            return {}, None, None
        mode, step = model.tags.get(RELEASE_TAG), model.tags.get(Tag.CANARY_STEP)
        aliases = {a: str(v) for a, v in model.aliases.items()}
        return aliases, mode if mode in RELEASE_MODES else None, int(step) if step and step.isdigit() else None

    def set_canary_step(self, step: int | None) -> None:
        """Allow the canary up to ramp step ``step`` (None: back to the first step of a new release)."""
        if step is not None:
            self._client.set_registered_model_tag(self.name, Tag.CANARY_STEP, str(step))
            return
        try:
            self._client.delete_registered_model_tag(self.name, Tag.CANARY_STEP)
        except MlflowException:
            pass  # no model or no tag: nothing to clear

    def release_mode(self) -> str | None:
        return self.serving_state()[1]

    def set_release_mode(self, mode: str | None) -> None:
        """Set (or with None, clear) the release mode running services follow; a new release starts its
        canary at the first step again."""
        self.set_canary_step(None)
        if mode is None:
            try:
                self._client.delete_registered_model_tag(self.name, RELEASE_TAG)
            except MlflowException:
                pass  # no model or no tag: nothing to clear
            return
        if mode not in RELEASE_MODES:
            raise RegistryError(f"release mode must be one of {RELEASE_MODES}, got '{mode}'")
        self._client.set_registered_model_tag(self.name, RELEASE_TAG, mode)

    def set_tag(self, version: str, key: str, value: str) -> None:
        self._client.set_model_version_tag(self.name, str(version), key, value)

    def _set_alias(self, alias: str, version: str) -> None:
        self._client.set_registered_model_alias(self.name, alias, str(version))

    def load(self, ref: str) -> Any:
        """Load a version by alias ('champion') or number, from this registry only."""
        uri = f"models:/{self.name}/{ref}" if str(ref).isdigit() else f"models:/{self.name}@{ref}"
        try:
            return mlflow.sklearn.load_model(uri)
        except MlflowException as exc:
            raise RegistryError(f"cannot load {uri}: {exc.message}") from None


def move_alias(
    registry: Registry,
    ledger: Ledger,
    alias: str,
    version: str,
    action: str,
    reason: str,
    run_id: str | None = None,
    gate: str | None = None,
) -> LedgerEntry:
    """Point ``alias`` at ``version`` and write the move to the ledger."""
    registry.info(version)  # fails clearly on an unknown version before anything moves
    previous = registry.alias_version(alias)
    registry._set_alias(alias, version)
    return ledger.record(registry.name, alias, version, previous, action, reason, run_id=run_id, gate=gate)


def rollback(registry: Registry, ledger: Ledger, reason: str, alias: str = CHAMPION) -> LedgerEntry:
    """Move ``alias`` back to the version it held before, as the ledger tells it."""
    current = registry.alias_version(alias)
    # LedgerEntry is frozen (read-only fields), AliasMove's protocol declares settable ones
    history = cast("list[AliasMove]", ledger.history(registry.name, alias=alias, limit=1000))
    target = rollback_target(history, current, alias)
    if target is None:
        raise RegistryError(f"model '{registry.name}': no earlier {alias} to roll back to (current v{current})")
    entry = move_alias(registry, ledger, alias, target, "rollback", reason)
    if alias == CHAMPION and registry.release_mode() not in (None, CHAMPION):
        registry.set_release_mode(CHAMPION)  # the release is over: the challenger gets no more traffic
    return entry


def release(registry: Registry, ledger: Ledger, mode: str, reason: str) -> LedgerEntry:
    """Switch running services to ``mode`` for the current challenger, and record it.

    ``shadow``: the challenger scores every request, its outputs are logged, never returned.
    ``canary``: a sticky share of ids is answered by it, ramped by the config.
    ``champion``: the champion alone.
    """
    if mode not in RELEASE_MODES:
        raise RegistryError(f"release mode must be one of {RELEASE_MODES}, got '{mode}'")
    challenger, champion = registry.alias_version(CHALLENGER), registry.alias_version(CHAMPION)
    if mode != CHAMPION and (challenger is None or challenger == champion):
        raise RegistryError(
            f"model '{registry.name}' has no challenger apart from the champion (v{champion}): "
            "train a new version first (with gate.promotion: manual it stays challenger)"
        )
    registry.set_release_mode(mode)
    version = challenger or champion or "-"
    return ledger.record(registry.name, CHALLENGER, version, version, release_action(mode), reason)
