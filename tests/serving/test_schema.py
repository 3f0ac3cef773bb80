"""Request validation from a signature: shapes, field-level errors, unseen categories, frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from perennial.config import Config
from perennial.core.data import features_of, labels_of
from perennial.core.training import train_candidate
from perennial.serving.fastpath import compile_pipeline, probe_frame, verified
from perennial.serving.schema import (
    FieldSpec,
    RequestError,
    RequestSchema,
    build_frame,
    fields_from_signature,
    known_categories,
    merge_fields,
)
from tests.conftest import make_flights

SIGNATURE = [
    {"type": "double", "name": "distance", "required": True},
    {"type": "double", "name": "temp", "required": True},
    {"type": "string", "name": "carrier", "required": True},
    {"type": "string", "name": "origin", "required": True},
    {"type": "datetime", "name": "time_hour", "required": True},
]
GOOD = {
    "flight_id": "f1",
    "distance": 1000,
    "temp": 50.5,
    "carrier": "AA",
    "origin": "JFK",
    "time_hour": "2013-07-01T09:00:00Z",
}


@pytest.fixture
def schema(tiny_config: Config) -> RequestSchema:
    fields = fields_from_signature(SIGNATURE, tiny_config)
    return RequestSchema(fields, "flight_id", "time_hour", {"carrier": frozenset({"AA", "B6"})}, max_rows=3)


def errors_of(schema: RequestSchema, payload: object) -> tuple[int, list[dict]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(RequestError) as caught:
        schema.parse(body)
    return caught.value.status, caught.value.errors


def test_fields_come_from_the_signature_or_else_the_config(tiny_config: Config) -> None:
    assert [(f.name, f.kind) for f in fields_from_signature(SIGNATURE, tiny_config)][-1] == ("time_hour", "datetime")
    from_config = fields_from_signature(None, tiny_config)
    assert [(f.name, f.kind) for f in from_config] == [
        ("distance", "double"),
        ("temp", "double"),
        ("carrier", "string"),
        ("origin", "string"),
        ("time_hour", "datetime"),
    ]
    with pytest.raises(ValueError, match="cannot take from JSON"):
        fields_from_signature([{"type": "binary", "name": "blob"}], tiny_config)
    merged = merge_fields(from_config[:2], [FieldSpec("temp", "double"), FieldSpec("dest", "string")])
    assert [(f.name, f.required) for f in merged] == [("distance", True), ("temp", True), ("dest", False)]


def test_one_record_and_a_batch_parse_into_columns(schema: RequestSchema) -> None:
    # when one record is sent, then it is one row, its integer distance read as a number
    one = schema.parse(json.dumps(GOOD).encode())
    assert one.single and one.ids == ["f1"] and one.columns["distance"] == [1000.0]
    # when a batch is sent (nulls allowed, integer ids taken as text, naive times as UTC)
    batch = schema.parse(
        json.dumps(
            {"records": [GOOD, {**GOOD, "flight_id": 7, "temp": None, "time_hour": "2013-07-01 10:00"}]}
        ).encode()
    )
    assert not batch.single and batch.ids == ["f1", "7"] and batch.columns["temp"] == [50.5, None]
    frame = build_frame(batch.columns, ["time_hour", "temp", "carrier"], {"time_hour": "datetime", "temp": "double"})
    # then the frame has the model's column order and training's dtypes
    assert list(frame.columns) == ["time_hour", "temp", "carrier"]
    assert str(frame["time_hour"].dtype) == "datetime64[ns, UTC]" and frame["time_hour"].iloc[1].hour == 10
    assert frame["temp"].dtype == np.float64 and np.isnan(frame["temp"].iloc[1])
    flags = build_frame({"ok": [True, None], "on": [True, False]}, ["ok", "on"], {"ok": "boolean", "on": "boolean"})
    assert flags["on"].dtype == bool and np.isnan(flags["ok"].iloc[1])


def test_missing_extra_and_mistyped_fields_are_named_one_by_one(schema: RequestSchema) -> None:
    bad = {**GOOD, "temp": "warm", "carrier": 3, "wingspan": 12}
    del bad["origin"]
    status, errors = errors_of(schema, {"records": [GOOD, bad]})
    assert status == 422
    assert {(e["field"], e["type"]) for e in errors} == {
        ("records[1].temp", "float_type"),
        ("records[1].carrier", "string_type"),
        ("records[1].wingspan", "extra_forbidden"),
        ("records[1].origin", "missing"),
    }
    status, errors = errors_of(schema, {**GOOD, "time_hour": "not a time", "distance": True})
    assert status == 422 and {e["field"] for e in errors} == {"time_hour", "distance"}
    assert all(e["msg"] for e in errors)


def test_malformed_empty_and_oversized_bodies_are_refused(schema: RequestSchema) -> None:
    status, errors = errors_of(schema, b'{"flight_id": "f1", ')
    assert status == 400 and errors[0]["type"] == "json_invalid" and "malformed JSON" in errors[0]["msg"]
    assert errors_of(schema, {"records": []})[0] == 422
    assert errors_of(schema, {"records": {"a": 1}})[0] == 422
    assert errors_of(schema, "just text")[0] == 422
    assert errors_of(schema, {"records": [GOOD], "extra": 1})[1][0]["field"] == "extra"
    status, errors = errors_of(schema, {"records": [GOOD] * 4})
    assert status == 413 and "limit of 3" in errors[0]["msg"]


def test_an_outsized_number_is_refused_as_batch_scoring_refuses_it(schema: RequestSchema) -> None:
    # given a record whose distance is a 1e308 sentinel, and one at the bound batch scoring still takes
    status, errors = errors_of(schema, {**GOOD, "distance": 1e308})
    # then the sentinel is refused by field, as check_finite refuses it in a batch; the bound itself is scored
    assert status == 422 and errors[0]["field"] == "distance" and "1e+150" in errors[0]["msg"], errors
    assert schema.parse(json.dumps({**GOOD, "distance": -1e150}).encode()).rows == 1


def test_a_record_without_any_feature_value_is_refused_not_answered(schema: RequestSchema) -> None:
    # given one record whose every feature is null, and a batch where the second is so
    empty = {"flight_id": "f9", **{f["name"]: None for f in SIGNATURE}}
    # when each is parsed / then each empty record is refused by place (the model would answer its prior)
    status, errors = errors_of(schema, empty)
    assert status == 422 and errors[0]["field"] == "record" and "every feature is missing" in errors[0]["msg"]
    status, errors = errors_of(schema, {"records": [GOOD, empty]})
    assert status == 422 and [e["field"] for e in errors] == ["records[1]"]
    # and a record with one value left is scored
    assert schema.parse(json.dumps({**empty, "temp": 50.0}).encode()).rows == 1


def test_unseen_categories_are_accepted_and_counted(schema: RequestSchema) -> None:
    parsed = schema.parse(json.dumps([GOOD, {**GOOD, "carrier": "ZZ"}, {**GOOD, "carrier": None}]).encode())
    assert parsed.rows == 3 and parsed.unseen == {"carrier": 1}


def test_the_time_column_is_optional_when_the_model_does_not_read_it() -> None:
    schema = RequestSchema([FieldSpec("temp", "double")], "flight_id", "time_hour")
    parsed = schema.parse(b'{"flight_id": "a", "temp": 1}')
    assert parsed.columns == {"temp": [1.0], "time_hour": [None]}


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "logistic_regression"])
def test_the_direct_path_scores_exactly_like_predict_proba(family: str, tiny_config: Config) -> None:
    # given a fitted pipeline of each family (ordinal codes for trees, sparse one-hot for linear)
    flights = make_flights(rows=600)
    candidate = next(c for c in tiny_config.training.candidates if c.family == family).model_copy(
        update={"search": None}
    )
    model = train_candidate(
        candidate, features_of(flights, tiny_config), labels_of(flights, tiny_config), tiny_config
    ).model
    categories = known_categories(model)
    assert categories["carrier"] >= {"AA", "B6", "DL", "UA"}
    columns = list(model.feature_names_in_)
    kinds = {"distance": "double", "temp": "double", "time_hour": "datetime"}
    # when the direct path is compiled and checked on probe rows
    probe = probe_frame(columns, kinds, categories)
    direct = verified(model, probe)
    # then it is used, and agrees with the pipeline on real rows too
    assert direct is not model.predict_proba and compile_pipeline(model) is not None
    rows = flights.head(50).loc[:, columns]
    assert np.array_equal(direct(rows), model.predict_proba(rows))


def test_other_pipeline_shapes_keep_predict_proba() -> None:
    class Bare:
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros((len(frame), 2))

    bare = Bare()
    assert compile_pipeline(bare) is None
    assert verified(bare, pd.DataFrame({"a": [1.0]})) == bare.predict_proba


def test_a_datetime_feature_kept_as_text_takes_any_readable_time_and_refuses_one_that_is_not(
    tiny_config: Config,
) -> None:
    # given a model whose datetime feature the data held as text ('03/04/2021'): its signature says string
    text_times = [{**c, "type": "string"} if c["name"] == "time_hour" else c for c in SIGNATURE]
    schema = RequestSchema(fields_from_signature(text_times, tiny_config), "flight_id", "time_hour", max_rows=3)
    # when a record brings a time in the data's own spelling / then it is accepted as written
    assert schema.parse(json.dumps({**GOOD, "time_hour": "03/04/2013 09:00"}).encode()).columns["time_hour"] == [
        "03/04/2013 09:00"
    ]
    # when it brings text that is no time / then 422 names the field (it was scored as a missing time)
    status, errors = errors_of(schema, {**GOOD, "time_hour": "not a date"})
    assert status == 422 and [(e["field"], e["msg"]) for e in errors] == [
        ("time_hour", "Input should be a date or time")
    ]
    # and /metadata says it is text holding a time, while an ordinary text field stays plain text
    described = {f["name"]: f for f in schema.describe()["fields"]}
    assert (described["time_hour"]["type"], described["time_hour"]["format"]) == ("string", "date or time")
    assert "format" not in described["carrier"]


def test_a_served_record_keeps_the_key_batch_scoring_stored_for_the_same_row(tmp_path) -> None:
    from perennial.config import FileSource
    from perennial.core.data import content_keys
    from perennial.io.sources import read_source

    # given a Parquet table with a nullable boolean and a nullable number, gaps in both, read as batch scoring reads it
    table = pd.DataFrame(
        {
            "vip": pd.array([False, True, None, None], dtype="boolean"),
            "visits": pd.array([3, None, 5, None], dtype="Int64"),
            "plan": ["a", "b", None, "a"],
        }
    )
    table.to_parquet(tmp_path / "t.parquet", index=False)
    stored = content_keys(read_source(FileSource(kind="parquet", path=str(tmp_path / "t.parquet"))), table.columns)
    fields = [FieldSpec("vip", "boolean"), FieldSpec("visits", "long"), FieldSpec("plan", "string")]
    schema = RequestSchema(fields, None, None)
    records = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in table.astype(object).to_dict("records")
    ]
    # when the same rows are served one at a time and as one batch
    alone = [schema.parse(json.dumps(r).encode()).ids[0] for r in records]
    batch = schema.parse(json.dumps({"records": records}).encode()).ids
    # then each answer's id is the stored one (JSON true/false/null hash as the batch's column does)
    assert alone == stored.str.replace(r"-\d+$", "-0", regex=True).tolist() and batch == stored.tolist()
    # and a row whose boolean differs gets another id
    assert schema.parse(json.dumps({**records[0], "vip": True}).encode()).ids[0] != alone[0]


@pytest.mark.parametrize("kind", ["datetime", "string"])
def test_a_served_record_without_an_id_keys_as_its_batch_row_whatever_type_its_date_arrived_in(kind: str) -> None:
    import datetime as dt

    from perennial.core.data import content_keys

    # given a table keyed by content whose feature 'day' is a date, and a service whose signature reads it as kind
    schema = RequestSchema([FieldSpec("day", kind), FieldSpec("x", "double")], None, None, key_datetimes=["day"])
    served = schema.parse(json.dumps({"day": "2024-01-05", "x": 1.5}).encode()).ids
    # when batch scoring reads the same row from a CSV (text), a Parquet date column (date objects) or timestamps
    as_text = pd.DataFrame({"day": ["2024-01-05"], "x": [1.5]})
    as_dates = as_text.assign(day=[dt.date(2024, 1, 5)])
    as_stamps = as_text.assign(day=pd.to_datetime(["2024-01-05"]))
    batch = [content_keys(frame, ["day", "x"], ["day"]).tolist() for frame in (as_text, as_dates, as_stamps)]
    # then every read keys the row as the service does, and another day keys apart
    assert batch == [served, served, served]
    assert content_keys(as_text.assign(day=["2024-01-06"]), ["day", "x"], ["day"]).tolist() != served


def test_a_field_the_model_does_not_take_is_named_as_such_with_the_field_meant(schema: RequestSchema) -> None:
    # given a record that misspells temp, and one that carries a column of the user's file the model never read
    status, errors = errors_of(schema, {"records": [{**{k: v for k, v in GOOD.items() if k != "temp"}, "tmep": 50.0}]})
    # then the misspelling is refused naming the field it meant, and temp as missing
    assert status == 422
    by_type = {e["type"]: e for e in errors}
    assert "'tmep' is not a field of this model; did you mean 'temp'?" in by_type["extra_forbidden"]["msg"]
    assert by_type["missing"]["field"] == "records[0].temp"
    # and the file's other column is refused saying why the service, unlike batch scoring, refuses it
    status, errors = errors_of(schema, {**GOOD, "review text": "great flight"})
    (error,) = errors
    assert status == 422 and error["field"] == "review text" and "did you mean" not in error["msg"]
    assert "GET /metadata lists" in error["msg"] and "batch scoring ignores a file's other columns" in error["msg"]


@pytest.mark.parametrize("tree_based", [True, False])
def test_a_null_boolean_in_one_record_leaves_the_others_answered_as_alone(tree_based: bool) -> None:
    # given a model that learnt from a boolean column as a category and another as a number
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from perennial.config import Features
    from perennial.core.features import build_feature_pipeline, categorical_mask

    rng = np.random.default_rng(0)
    flag = rng.uniform(size=2000) < 0.5
    late = (flag & (rng.uniform(size=2000) < 0.9)) | (rng.uniform(size=2000) < 0.05)
    features = Features(numeric=["x", "flag_number"], categorical=["flag"])
    estimator = (
        HistGradientBoostingClassifier(categorical_features=categorical_mask(features))
        if tree_based
        else LogisticRegression()
    )
    model = Pipeline([("features", build_feature_pipeline(features, tree_based)), ("model", estimator)])
    model.fit(pd.DataFrame({"flag": flag, "x": rng.normal(size=2000), "flag_number": flag}), late)
    kinds, names = {"flag": "boolean", "x": "double", "flag_number": "boolean"}, ["flag", "x", "flag_number"]
    alone = {"flag": [True, False], "x": [0.0, 0.0], "flag_number": [True, False]}
    # when the same two records come in a batch with a third whose booleans are null
    batch = {key: [*values, None if key != "x" else 0.0] for key, values in alone.items()}
    answers = model.predict_proba(build_frame(batch, names, kinds))[:, 1]
    # then the two are answered as when sent alone (before: 1.0/0.0, an unseen category, or a crash)
    assert answers[:2] == pytest.approx(model.predict_proba(build_frame(alone, names, kinds))[:2, 1])
    assert answers[0] > 0.5 > answers[1]
