"""Request validation derived from the model's MLflow signature (or the config's feature lists).

A record is one JSON object: the id column plus every input column the model reads. Keys
must all be present and no other key is allowed; a value may be ``null`` (the pipeline
imputes it). Types are strict: a number is not a string, a string is not a number, a boolean
is neither; timestamps are ISO 8601 text (or Unix seconds where the signature holds a datetime; a
datetime feature the data held as text takes text only), naive ones taken as UTC.
Categories the model never saw are valid input (its encoders handle them): they are counted,
not refused.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, NotRequired, cast

import numpy as np
import orjson
import pandas as pd
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from perennial.config import Config
from perennial.core.data import LARGEST_NUMBER, content_keys

BATCH_KEY = "records"
NUMERIC = frozenset({"double", "float", "long", "integer"})
# a datetime feature the data held as text (the signature says string): any spelling the model's
# parser reads (core/features.py), but a value it cannot read is refused, not scored as a missing time
DATETIME_TEXT = "datetime_text"


def _readable_time(value: str) -> str:
    if pd.isna(pd.to_datetime(pd.Series([value]), utc=True, errors="coerce", format="mixed").iloc[0]):
        raise PydanticCustomError("datetime_parsing", "Input should be a date or time")
    return value


def _measured(value: float) -> float:
    if abs(value) > LARGEST_NUMBER:
        raise PydanticCustomError(
            "number_outsized",
            f"Input should be within ±{LARGEST_NUMBER:.0e}: an outsized value is no measurement (send null for a missing one)",
        )
    return value


_TYPES: dict[str, Any] = {
    # strict float takes JSON integers too, never text or booleans; bounded as batch scoring bounds a
    # feature (core/data.check_finite): a 1e308 sentinel is no measurement, and the service must not score it
    **{kind: Annotated[float, AfterValidator(_measured)] for kind in NUMERIC},
    "string": str,
    "boolean": bool,
    "datetime": Annotated[dt.datetime, Field(strict=False)],  # ISO text is the only JSON spelling
    DATETIME_TEXT: Annotated[str, AfterValidator(_readable_time)],
}


class RequestError(Exception):
    """A request the service refuses: an HTTP status and field-level details."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        self.status, self.errors = status, errors
        super().__init__("; ".join(f"{e['field']}: {e['msg']}" for e in errors))


def _error(field_: str, msg: str, type_: str, loc: Sequence[str | int] = ()) -> dict[str, Any]:
    return {"field": field_, "loc": list(loc) or [field_], "msg": msg, "type": type_}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # the MLflow type name: double, long, string, boolean, datetime...
    required: bool = True  # the key must be present (its value may still be null)


def fields_from_signature(inputs: Sequence[Mapping[str, Any]] | None, config: Config) -> tuple[FieldSpec, ...]:
    """Input fields from the signature's column specs; from the config's lists when there is none."""
    if not inputs:
        features = config.data.features
        return (
            *(FieldSpec(c, "double") for c in features.numeric),
            *(FieldSpec(c, "string") for c in features.categorical),
            *(FieldSpec(d.column, "datetime") for d in features.datetime),
        )
    specs = []
    dated = {d.column for d in config.data.features.datetime}
    for column in inputs:
        kind = str(column.get("type"))
        if kind not in _TYPES or "name" not in column:
            raise ValueError(f"the model signature has an input this service cannot take from JSON: {dict(column)}")
        name = str(column["name"])
        specs.append(FieldSpec(name, DATETIME_TEXT if kind == "string" and name in dated else kind))
    return tuple(specs)


def merge_fields(primary: Sequence[FieldSpec], secondary: Sequence[FieldSpec]) -> tuple[FieldSpec, ...]:
    """The primary model's fields, plus the secondary's others as optional (a challenger's new input)."""
    names = {f.name for f in primary}
    return (*primary, *(FieldSpec(f.name, f.kind, required=False) for f in secondary if f.name not in names))


def known_categories(model: Any) -> dict[str, frozenset[str]]:
    """The categories each categorical column's encoder learned, read from the fitted pipeline."""
    found: dict[str, frozenset[str]] = {}
    for step in getattr(model, "named_steps", {}).values():
        for _, transformer, columns in getattr(step, "transformers_", ()):
            encoder = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
            categories = getattr(encoder, "categories_", None)
            if categories is None or isinstance(columns, str) or len(categories) != len(columns):
                continue
            for column, values in zip(columns, categories, strict=True):
                found[str(column)] = frozenset(str(v) for v in values)
    return found


def _id_text(value: Any) -> Any:
    # ids may be integers in the source; they are joined as text downstream
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(slots=True)
class Parsed:
    """Validated records, column-wise: what the batcher concatenates and the model reads."""

    single: bool
    ids: list[str]
    columns: dict[str, list[Any]]
    unseen: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.ids)


class RequestSchema:
    """Parses a request body into columns, or raises RequestError with one entry per bad field."""

    def __init__(
        self,
        fields: Iterable[FieldSpec],
        id_column: str | None,
        time_column: str | None,
        categories: Mapping[str, frozenset[str]] | None = None,
        max_rows: int = 1000,
        key_columns: Sequence[str] = (),
        key_datetimes: Sequence[str] = (),
    ) -> None:
        self.fields = tuple(fields)
        self.id_column, self.time_column, self.max_rows = id_column, time_column, max_rows
        # without an id column a record's id is its content key, as in batch scoring (core/data.row_keys)
        self.key_columns = tuple(key_columns) or tuple(f.name for f in self.fields)
        self.key_datetimes = tuple(key_datetimes)  # hashed as instants, as batch scoring hashes them
        self.categories = dict(categories or {})
        if time_column is not None and not any(f.name == time_column for f in self.fields):
            # the event time is logged with each prediction even when the model does not read it
            self.fields = (*self.fields, FieldSpec(time_column, "datetime", required=False))
        self._names = {*([id_column] if id_column else []), *(f.name for f in self.fields)}
        self._kinds = {f.name: f.kind for f in self.fields}
        spec: dict[str, Any] = {id_column: Annotated[str, BeforeValidator(_id_text)]} if id_column else {}
        for f in self.fields:
            kind = _TYPES[f.kind] | None
            spec[f.name] = kind if f.required else NotRequired[kind]
        record = TypedDict("Record", spec)  # type: ignore[misc]
        record.__pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[attr-defined]
        self._records = TypeAdapter(list[record])

    def describe(self) -> dict[str, Any]:
        fields = (
            [{"name": self.id_column, "type": "string", "required": True, "nullable": False}] if self.id_column else []
        )
        fields += [
            {"name": f.name, "type": f.kind, "required": f.required, "nullable": True}
            if f.kind != DATETIME_TEXT
            else {"name": f.name, "type": "string", "format": "date or time", "required": f.required, "nullable": True}
            for f in self.fields
        ]
        return {"fields": fields, "batch_key": BATCH_KEY, "max_request_rows": self.max_rows}

    def _records_of(self, payload: Any) -> tuple[list[Any], bool]:
        # a column named like the batch key makes an object a single record
        if isinstance(payload, dict) and BATCH_KEY in payload and BATCH_KEY not in self._names:
            others = sorted(set(payload) - {BATCH_KEY})
            if others:
                raise RequestError(
                    422, [_error(k, "Extra inputs are not permitted", "extra_forbidden") for k in others]
                )
            records = payload[BATCH_KEY]
            if not isinstance(records, list):
                raise RequestError(422, [_error(BATCH_KEY, "Input should be a list of records", "list_type")])
            return records, False
        if isinstance(payload, list):
            return payload, False
        if isinstance(payload, dict):
            return [payload], True
        raise RequestError(
            422, [_error("body", f'expected one record (an object) or {{"{BATCH_KEY}": [...]}}', "model_type")]
        )

    def parse(self, body: bytes) -> Parsed:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, [_error("body", f"malformed JSON: {exc}", "json_invalid")]) from None
        records, single = self._records_of(payload)
        if not records:
            raise RequestError(422, [_error(BATCH_KEY, "at least one record is needed", "too_short")])
        if len(records) > self.max_rows:
            msg = f"{len(records)} records exceed the limit of {self.max_rows} per request"
            raise RequestError(413, [_error(BATCH_KEY, msg, "too_long")])
        try:
            # the Record TypedDict is built at run time: mypy sees it with no keys
            valid = cast("list[dict[str, Any]]", self._records.validate_python(records))
        except ValidationError as exc:
            raise RequestError(422, [self._explained(e) for e in _field_errors(exc, single)]) from None
        # a record with no value at all would still get a confident answer (the model's prior): refuse it
        empty = [i for i, r in enumerate(valid) if all(r.get(f.name) is None for f in self.fields)]
        if empty:
            msg = "every feature is missing: there is nothing to score"
            named = [("record", ()) if single else (f"{BATCH_KEY}[{i}]", (BATCH_KEY, i)) for i in empty]
            raise RequestError(422, [_error(name, msg, "value_error", loc) for name, loc in named])
        columns = {f.name: [r.get(f.name) for r in valid] for f in self.fields}
        if self.id_column:
            ids = [r[self.id_column] for r in valid]
        else:
            # typed as the model frame is: a request whose values are all null still hashes a number as
            # NaN, as the batch's column does (an untyped [None] would be text)
            present = [c for c in self.key_columns if c in columns]
            frame = build_frame(columns, present, self._kinds)
            ids = content_keys(frame, self.key_columns, self.key_datetimes).tolist()
        return Parsed(single, ids, columns, self._unseen(columns))

    def _explained(self, error: dict[str, Any]) -> dict[str, Any]:
        """A field the model does not take, said as such, with the field meant when it is a near miss.

        Batch scoring ignores a file's other columns; the service refuses them, so that a misspelt
        field is never dropped unseen and scored as missing (GET /metadata lists the fields)."""
        if error["type"] != "extra_forbidden" or not error.get("loc"):
            return error
        name = str(error["loc"][-1])
        close = difflib.get_close_matches(name, sorted(self._names), n=1, cutoff=0.75)
        meant = f"; did you mean '{close[0]}'?" if close else ""
        msg = (
            f"'{name}' is not a field of this model{meant} (it takes only the fields GET /metadata lists; "
            "batch scoring ignores a file's other columns, the service refuses them so a misspelt field "
            "is never scored as missing)"
        )
        return {**error, "msg": msg}

    def _unseen(self, columns: Mapping[str, list[Any]]) -> dict[str, int]:
        counts = {}
        for column, known in self.categories.items():
            values = columns.get(column, ())
            n = sum(1 for v in values if v is not None and str(v) not in known)
            if n:
                counts[column] = n
        return counts


def _field_errors(exc: ValidationError, single: bool) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        loc = loc[1:] if single else [BATCH_KEY, *loc]
        name = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
        out.append(_error(name or "body", err["msg"], err["type"], loc))
    return out


def build_frame(columns: Mapping[str, Sequence[Any]], names: Sequence[str], kinds: Mapping[str, str]) -> pd.DataFrame:
    """A model-ready frame in the model's column order, with training's dtypes (nulls as NaN/NaT)."""
    data: dict[str, Any] = {}
    for name in names:
        values = columns.get(name)
        kind = kinds.get(name, "string")
        if values is None:  # a column only another model reads
            values = [None] * len(next(iter(columns.values()), ()))
        if kind in NUMERIC:
            data[name] = np.array(values, dtype="float64")
        elif kind == "boolean":
            # with a null: objects True/False/NaN, as pandas reads such a CSV column, never 1.0/0.0/NaN,
            # which a category column reads as unseen text ('1.0') for every record of the batch;
            # only nulls: NaN, which row keys hash as a stored nullable boolean's gaps
            nulls = sum(v is None for v in values)
            data[name] = (
                np.array(values, dtype=bool)
                if not nulls
                else np.array([np.nan if v is None else v for v in values], dtype=object)
                if nulls < len(values)
                else np.full(len(values), np.nan)
            )
        elif kind == "datetime":
            data[name] = pd.to_datetime(values, utc=True)
        else:
            data[name] = np.array(values, dtype=object)
    return pd.DataFrame(data)
