"""The MLflow model registry: versions, aliases (`champion`, `challenger`), lineage tags.

Every alias move goes through ``move_alias`` so that it is also written to the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from perennial.core.promotion import rollback_target
from perennial.errors import RegistryError
from perennial.io.ledger import Ledger, LedgerEntry

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str]
    aliases: tuple[str, ...]


class Registry:
    def __init__(self, name: str, client: MlflowClient | None = None) -> None:
        self.name = name
        self._client = client or MlflowClient()

    def register(self, model_uri: str, run_id: str, tags: dict[str, Any]) -> str:
        """A new version of the registered model, tagged with its lineage."""
        try:
            self._client.get_registered_model(self.name)
        except MlflowException:
            self._client.create_registered_model(self.name)
        version = self._client.create_model_version(
            self.name, model_uri, run_id=run_id, tags={k: str(v) for k, v in tags.items()}
        )
        return str(version.version)

    def alias_version(self, alias: str) -> str | None:
        try:
            return str(self._client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def info(self, version: str) -> VersionInfo:
        try:
            v = self._client.get_model_version(self.name, str(version))
        except MlflowException:
            raise RegistryError(f"model '{self.name}' has no version {version}") from None
        return VersionInfo(self.name, str(v.version), v.run_id, v.source, dict(v.tags), tuple(v.aliases))

    def versions(self) -> list[VersionInfo]:
        try:
            found = self._client.search_model_versions(f"name = '{self.name}'")
        except MlflowException:
            return []
        infos = [VersionInfo(self.name, str(v.version), v.run_id, v.source, dict(v.tags), tuple(v.aliases)) for v in found]
        return sorted(infos, key=lambda i: int(i.version))

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
    target = rollback_target(ledger.history(registry.name, alias=alias, limit=1000), current, alias)
    if target is None:
        raise RegistryError(f"model '{registry.name}': no earlier {alias} to roll back to (current v{current})")
    return move_alias(registry, ledger, alias, target, "rollback", reason)
