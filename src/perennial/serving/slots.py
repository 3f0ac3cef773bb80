"""The models being served: loaded beside the running ones, then swapped in by one assignment.

A ``ModelSet`` (champion, optional challenger, and the request schema they accept) is
immutable. A request takes the set current when it arrives and is scored by exactly that
set, even if a reload swaps a new one in meanwhile: an old model stays alive as long as a
request still holds it, so no request fails during a swap.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np

from perennial.config import Config
from perennial.core.predict import classes_of, decision_threshold, served_model
from perennial.core.target import LABELS_TAG, Labels
from perennial.io.registry import Registry
from perennial.serving.fastpath import RecordsPredict, probe_frame, verified, verified_records
from perennial.serving.schema import (
    FieldSpec,
    RequestSchema,
    build_frame,
    fields_from_signature,
    known_categories,
    merge_fields,
)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    name: str
    version: str
    role: str  # champion | challenger
    model: Any
    fields: tuple[FieldSpec, ...]
    columns: tuple[str, ...]  # what the model reads, in its fitted order
    categories: dict[str, frozenset[str]]
    run_id: str | None = None
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    kinds: dict[str, str] = field(default_factory=dict)
    scorer: Callable[[Any], np.ndarray] | None = None  # predict_proba, or its verified direct path
    task: str = "binary"
    classes: tuple[str, ...] = ()  # multiclass: the probability columns' classes
    compiled: RecordsPredict | None = None  # binary: the verified numpy path over records, when every step compiles
    labels: Labels = Labels("target", 1, 0)  # what its 1 and 0 stand for (the version's tag)
    threshold: float = 0.5  # binary: the probability it decides 'positive' at (core/predict.decision_threshold)

    def predict(self, columns: dict[str, list[Any]]) -> np.ndarray:
        """The task's prediction for column-wise records: positive probability, class probabilities, value."""
        if self.compiled is not None:
            return np.asarray(self.compiled(columns), dtype="float64")[:, 1]
        frame = build_frame(columns, self.columns, self.kinds)
        if self.task == "regression":
            return np.asarray(self.model.predict(frame), dtype="float64")
        scored = np.asarray((self.scorer or self.model.predict_proba)(frame), dtype="float64")
        return scored[:, 1] if self.task == "binary" else scored

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "role": self.role,
            "run_id": self.run_id,
            "loaded_at": self.loaded_at.isoformat(),
            "columns": list(self.columns),
            "direct_path": self.scorer is not None and self.scorer != getattr(self.model, "predict_proba", None),
            "task": self.task,
            **(
                {
                    "positive_label": self.labels.to_dict()["positive"],
                    "negative_label": self.labels.to_dict()["negative"],
                }
                if self.task == "binary"
                else {}
            ),
            **({"classes": list(self.classes)} if self.classes else {}),
            "compiled_path": self.compiled is not None,
        }


@dataclass(frozen=True, slots=True)
class ModelSet:
    champion: LoadedModel
    challenger: LoadedModel | None
    schema: RequestSchema

    @property
    def versions(self) -> tuple[str, str | None]:
        return self.champion.version, self.challenger.version if self.challenger else None


def _signature_inputs(name: str, version: str) -> list[dict[str, Any]] | None:
    signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    return signature.inputs.to_dict() if signature is not None and signature.inputs is not None else None


def load_version(registry: Registry, version: str, role: str, config: Config) -> LoadedModel:
    """Load one registered version with its input schema and learned categories, warmed up."""
    info = registry.info(version)
    model = served_model(registry.load(version), info.tags)  # a regression's cost shift applies
    fields = fields_from_signature(_signature_inputs(registry.name, version), config)
    columns = tuple(str(c) for c in getattr(model, "feature_names_in_", [f.name for f in fields]))
    missing = [c for c in columns if c not in {f.name for f in fields}]
    fallback = {f.name: f for f in fields_from_signature(None, config)}
    fields = (*fields, *(fallback.get(c, FieldSpec(c, "string")) for c in missing))
    kinds, categories = {f.name: f.kind for f in fields}, known_categories(model)
    # the probe also warms the model up: the first predict's lazy set-up is paid before any request
    probe = probe_frame(columns, kinds, categories)
    compiled = None
    if config.task == "regression":
        model.predict(probe)  # warm-up; the direct path is for probabilities only
        scorer = None
    else:
        scorer = verified(model, probe)
        compiled = verified_records(model, probe, kinds) if config.task == "binary" else None
    return LoadedModel(
        name=registry.name,
        version=str(version),
        role=role,
        model=model,
        fields=fields,
        columns=columns,
        categories=categories,
        run_id=info.run_id,
        kinds=kinds,
        scorer=scorer,
        task=config.task,
        classes=classes_of(model, config.task),
        compiled=compiled,
        labels=Labels.from_json(info.tags.get(LABELS_TAG), config.data.target.column),
        threshold=decision_threshold(info.tags, config.evaluation.threshold),
    )


def build_model_set(champion: LoadedModel, challenger: LoadedModel | None, config: Config) -> ModelSet:
    fields = merge_fields(champion.fields, challenger.fields if challenger else ())
    schema = RequestSchema(
        fields,
        id_column=config.data.id_column,
        time_column=config.data.time_column,
        categories=champion.categories,
        max_rows=config.serving.max_request_rows,
        key_columns=config.data.features.columns,
        key_datetimes=[d.column for d in config.data.features.datetime],
    )
    return ModelSet(champion, challenger, schema)


class ModelSlot:
    """Holds the current ModelSet; readers take it without a lock, a swap is one assignment."""

    def __init__(self) -> None:
        self._current: ModelSet | None = None
        self._swap_lock = threading.Lock()

    @property
    def current(self) -> ModelSet | None:
        return self._current

    def swap(self, new: ModelSet) -> ModelSet | None:
        with self._swap_lock:
            old, self._current = self._current, new
        return old
