"""What the commands that only look (``status``, ``doctor``) read of MLflow, without importing MLflow.

Importing MLflow and building its SQL store took about 2 s here (``import mlflow`` 1.2 s, its store
module with alembic 0.8 s, its ORM mappers 0.4 s), against queries of a few milliseconds: `perennial
status` answered in 3.1 s where the goal is 2 s. On the default store, a SQLite file, what these
commands ask is a handful of SELECTs on MLflow's registry and run tables, read here through a
read-only connection (``mode=ro``: nothing here can write to MLflow's store).

Those tables are MLflow's, not ours, so the view is used only on the schema revision the pinned MLflow
writes (``alembic_version``); on any other revision, a tracking server, or a missing file, ``open_view``
returns None and the caller asks MLflow's client. tests/unit/io/test_registry_view.py checks that
both give the same answers on a store MLflow itself wrote.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from perennial.core.names import RELEASE_MODES, Alias, Tag
from perennial.errors import RegistryError

# the alembic revision of the SQLite store the pinned MLflow (requirements.lock) creates and reads
KNOWN_REVISIONS = frozenset({"dc11669786a5"})
WORKSPACE = "default"  # MLflow's workspace when workspaces are off (a local store has no other)
DELETED_VERSION = "Deleted_Internal"  # the stage MLflow gives a deleted model version, kept as a row


@dataclass(frozen=True, slots=True)
class VersionInfo:
    name: str
    version: str
    run_id: str | None
    source: str | None
    tags: dict[str, str]
    aliases: tuple[str, ...]

    @property
    def training_run(self) -> str | None:
        """The flow run that trained and gated this version (its data contract, reference, profile)."""
        return self.tags.get(Tag.TRAINING_RUN) or None


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A version the flows ask about (the champion), with its lineage: the run that trained it."""

    name: str
    version: str
    training_run: str | None

    def require_training_run(self) -> str:
        if not self.training_run:
            raise RegistryError(
                f"model '{self.name}' v{self.version} has no {Tag.TRAINING_RUN} tag: its lineage is lost"
            )
        return self.training_run


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as ``status`` lists it."""

    run_id: str
    name: str
    start_time: int  # milliseconds since the epoch, as MLflow keeps it
    status: str
    tags: dict[str, str]


def open_view(tracking_uri: str, name: str) -> RegistryView | None:
    """The read-only view of registered model ``name`` on a SQLite store MLflow wrote at a known
    revision; None when MLflow's client must answer instead."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = Path(unquote(tracking_uri.removeprefix("sqlite:///")))
    if not path.is_file():
        return None  # a store not made yet: MLflow's client creates it
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        revision = None
    if revision not in KNOWN_REVISIONS:
        engine.dispose()
        return None
    return RegistryView(name, engine)


class RegistryView:
    """``Registry``'s read questions (and the runs ``status`` lists), answered from MLflow's SQLite tables."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self._engine = engine

    def _rows(self, query: str, **params: object) -> Sequence[tuple[Any, ...]]:
        with self._engine.connect() as connection:
            return list(connection.execute(text(query), {"workspace": WORKSPACE, **params}).tuples())

    def alias_version(self, alias: str) -> str | None:
        rows = self._rows(
            "SELECT a.version FROM registered_model_aliases a JOIN model_versions v"
            " ON v.name = a.name AND v.version = a.version AND v.workspace = a.workspace"
            " WHERE a.name = :name AND a.alias = :alias AND a.workspace = :workspace AND v.current_stage != :deleted",
            name=self.name,
            alias=alias,
            deleted=DELETED_VERSION,
        )
        return str(rows[0][0]) if rows else None

    def _aliases(self) -> dict[str, str]:
        rows = self._rows(
            "SELECT alias, version FROM registered_model_aliases WHERE name = :name AND workspace = :workspace",
            name=self.name,
        )
        return {str(alias): str(version) for alias, version in rows}

    def versions(self) -> list[VersionInfo]:
        """Every version not deleted, oldest first, with its tags (aliases: only ``info`` carries them, as
        MLflow's version search carries none)."""
        return self._versions(None)

    def info(self, version: str) -> VersionInfo | None:
        found = self._versions(str(version))
        if not found:
            return None
        aliases = tuple(alias for alias, v in self._aliases().items() if v == found[0].version)
        return VersionInfo(self.name, found[0].version, found[0].run_id, found[0].source, found[0].tags, aliases)

    def _versions(self, version: str | None) -> list[VersionInfo]:
        where = " AND version = :version" if version is not None else ""  # one version's rows, or all
        wanted = int(version) if version is not None and version.isdigit() else -1
        rows = self._rows(
            "SELECT version, run_id, source FROM model_versions WHERE name = :name AND workspace = :workspace"
            f" AND current_stage != :deleted{where} ORDER BY version",
            name=self.name,
            deleted=DELETED_VERSION,
            version=wanted,
        )
        tags: dict[str, dict[str, str]] = {}
        for key, value, number in self._rows(
            "SELECT key, value, version FROM model_version_tags WHERE name = :name AND workspace = :workspace" + where,
            name=self.name,
            version=wanted,
        ):
            tags.setdefault(str(number), {})[str(key)] = str(value)
        return [
            VersionInfo(self.name, str(v), run_id or None, source, tags.get(str(v), {}), ())
            for v, run_id, source in rows
        ]

    def at(self, alias: str) -> ModelRef | None:
        version = self.alias_version(alias)
        info = self.info(version) if version is not None else None
        return None if info is None else ModelRef(self.name, info.version, info.training_run)

    def champion(self) -> ModelRef | None:
        return self.at(Alias.CHAMPION)

    def serving_state(self) -> tuple[dict[str, str], str | None]:
        """Every alias and the release mode (``Registry.serving_state``)."""
        rows = self._rows(
            "SELECT value FROM registered_model_tags WHERE name = :name AND workspace = :workspace AND key = :key",
            name=self.name,
            key=Tag.RELEASE,
        )
        mode = str(rows[0][0]) if rows else None
        return self._aliases(), mode if mode in RELEASE_MODES else None

    def release_mode(self) -> str | None:
        return self.serving_state()[1]

    def runs(self, experiment: str, kind: str, limit: int) -> list[RunRow]:
        """The newest active runs of ``experiment`` tagged ``perennial.kind`` ``kind``, newest first
        (``search_runs`` with that filter, ordered by start time)."""
        found = self._rows(
            "SELECT r.run_uuid, r.name, r.start_time, r.status FROM runs r"
            " JOIN experiments e ON e.experiment_id = r.experiment_id"
            " JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = :tag AND t.value = :kind"
            " WHERE e.name = :experiment AND e.workspace = :workspace AND r.lifecycle_stage = 'active'"
            " ORDER BY r.start_time DESC, r.run_uuid LIMIT :limit",
            tag=Tag.KIND,
            kind=kind,
            experiment=experiment,
            limit=limit,
        )
        tags: dict[str, dict[str, str]] = {run_id: {} for run_id, *_ in found}
        if tags:
            with self._engine.connect() as connection:
                query = text("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN :ids")
                query = query.bindparams(bindparam("ids", expanding=True))
                for run_id, key, value in connection.execute(query, {"ids": list(tags)}):
                    tags[run_id][str(key)] = str(value)
        return [
            RunRow(run_id, name or "", int(start or 0), status, tags[run_id]) for run_id, name, start, status in found
        ]

    def artifact_paths(self, run_id: str, wanted: tuple[str, ...]) -> set[str] | None:
        """Which of ``wanted`` are files among ``run_id``'s artifacts; None when they are not on this
        machine's disk (a remote artifact store: MLflow's client lists those)."""
        rows = self._rows("SELECT artifact_uri FROM runs WHERE run_uuid = :run", run=run_id)
        if not rows or not rows[0][0]:
            return set()
        uri = str(rows[0][0])
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            return None
        root = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
        return {path for path in wanted if os.path.isfile(root / path)}

    def close(self) -> None:
        self._engine.dispose()
