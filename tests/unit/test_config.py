from __future__ import annotations

import copy
from pathlib import Path

import pytest

from perennial.config import Config, SqlStore, load_config, parse_config
from perennial.core.names import ReleaseMode
from perennial.errors import ConfigError
from tests.conftest import config_dict


def test_the_shipped_demo_config_loads() -> None:
    # given the bundled config / when it is loaded / then its sections are typed
    config = load_config(Path(__file__).parents[2] / "configs" / "flights.yaml")
    assert config.data.target.column == "delayed" and config.data.target.positive_label is None
    assert config.split.train_end.isoformat() == "2013-06-01"
    assert len(config.fingerprint()) == 16


def test_an_unknown_key_is_an_error_naming_its_path() -> None:
    # given a typo nested two levels deep
    raw = config_dict()
    raw["gate"]["min_primry"] = 0.7
    # when / then
    with pytest.raises(ConfigError, match=r"tiny.yaml: unknown key `gate\.min_primry`, did you mean `min_primary`\?"):
        parse_config(raw, "tiny.yaml")


def test_a_misspelt_required_key_is_one_unknown_key_not_a_missing_field() -> None:
    # given `target_colum` for `target` (which makes `target` missing too)
    raw = config_dict()
    raw["data"]["target_colum"] = raw["data"].pop("target")
    raw["split"]["holdout_ned"] = raw["split"].pop("holdout_end")
    # when parsed / then each typo is named once with the key it meant, union tags left out of the path
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, "tiny.yaml")
    message = str(raised.value)
    assert "unknown key `data.target_colum`, did you mean `target`?" in message
    assert "unknown key `split.holdout_ned`, did you mean `holdout_end`?" in message
    assert "required" not in message and "split.time" not in message


def test_a_wrong_type_names_the_key_path() -> None:
    raw = config_dict()
    raw["evaluation"]["bootstrap"]["resamples"] = "many"
    with pytest.raises(ConfigError, match=r"evaluation\.bootstrap\.resamples"):
        parse_config(raw, "tiny.yaml")


def test_config_is_frozen(tiny_config) -> None:
    with pytest.raises(Exception, match="frozen"):
        tiny_config.name = "other"  # type: ignore[misc]


def test_environment_references_are_expanded_and_a_missing_one_is_named(monkeypatch) -> None:
    raw = config_dict(path="${DATA_DIR}/f.parquet")
    monkeypatch.setenv("DATA_DIR", "/data")
    assert parse_config(raw).data.source.path == "/data/f.parquet"
    monkeypatch.delenv("DATA_DIR")
    with pytest.raises(ConfigError, match=r"data\.source\.path: environment variable \$\{DATA_DIR\} is not set"):
        parse_config(copy.deepcopy(raw))
    raw["data"]["source"]["path"] = "${DATA_DIR:-/fallback}/f.parquet"
    assert parse_config(raw).data.source.path == "/fallback/f.parquet"


def test_split_must_be_ordered_and_overrides_are_checked(tiny_config) -> None:
    raw = config_dict()
    raw["split"]["train_end"] = "2013-05-01"
    with pytest.raises(ConfigError, match="train_end must be before holdout_end"):
        parse_config(raw)
    import datetime as dt

    moved = tiny_config.with_split(dt.date(2013, 3, 15), dt.date(2013, 4, 1))
    assert moved.split.train_end == dt.date(2013, 3, 15) and tiny_config.split.train_end == dt.date(2013, 3, 1)
    with pytest.raises(ConfigError, match="split override"):
        tiny_config.with_split(dt.date(2013, 5, 1), None)
    # a retry on the newer windows moves the first day too, checked the same way
    newer = tiny_config.with_split(dt.date(2013, 3, 15), dt.date(2013, 4, 1), dt.date(2013, 2, 1))
    assert newer.split.train_start == dt.date(2013, 2, 1) and moved.split.train_start == dt.date(2013, 1, 1)
    with pytest.raises(ConfigError, match="train_start must be before train_end"):
        tiny_config.with_split(dt.date(2013, 3, 15), None, dt.date(2013, 3, 20))


def test_target_listed_as_feature_is_rejected_as_leakage() -> None:
    raw = config_dict()
    raw["data"]["features"]["numeric"].append("delayed")
    with pytest.raises(ConfigError, match="leakage"):
        parse_config(raw)


def test_missing_file_and_bad_yaml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: config file does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_slices_must_be_known_columns() -> None:
    raw = config_dict()
    raw["evaluation"]["slices"] = ["airline"]
    with pytest.raises(ConfigError, match=r"slices.*airline"):
        parse_config(raw)


def test_candidates_train_on_the_flow_threads_unless_a_dask_runner_is_configured(tiny_config) -> None:
    # given the tiny config without a task_runner section / then the default is the flow's threads
    assert tiny_config.training.task_runner.kind == "thread"
    # when a Dask runner is configured with an address from the environment
    raw = config_dict()
    raw["training"]["task_runner"] = {"kind": "dask", "address": "${DASK_ADDRESS:-}"}
    runner = parse_config(raw).training.task_runner
    # then an unset variable means a local cluster for the run
    assert (runner.kind, runner.address) == ("dask", "")


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        ({"kind": "thread", "n_workers": 2}, "apply to kind 'dask' only"),
        ({"kind": "dask", "address": "tcp://h:8786", "n_workers": 2}, "sized by its owner"),
        ({"kind": "dask", "address": "h:8786"}, "must look like tcp://host:8786"),
        ({"kind": "ray"}, r"training\.task_runner\.kind"),
    ],
)
def test_a_wrong_task_runner_is_an_error_naming_the_rule(runner, message) -> None:
    raw = config_dict()
    raw["training"]["task_runner"] = runner
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "tiny.yaml")


def test_batch_data_stays_in_memory_unless_the_dask_engine_is_configured(tiny_config) -> None:
    # given the tiny config without an engine / then the window is read into one pandas frame
    assert tiny_config.data.engine.kind == "pandas"
    # when the dask engine is asked for without a cluster size
    raw = config_dict()
    raw["data"]["engine"] = {"kind": "dask"}
    engine = parse_config(raw).data.engine
    # then it computes on a cluster (the address, PERENNIAL_DASK_ADDRESS, or a local one), not in the flow's thread
    assert (engine.kind, engine.scheduler, engine.address) == ("dask", "cluster", None)


@pytest.mark.parametrize(
    ("engine", "changes", "message"),
    [
        ({"kind": "pandas", "n_workers": 2}, {}, "apply to kind 'dask' only"),
        ({"kind": "dask", "scheduler": "synchronous", "memory_limit": "1GiB"}, {}, "runs no cluster"),
        ({"kind": "dask", "address": "tcp://h:8786", "memory_limit": "1GiB"}, {}, "sized by its owner"),
        ({"kind": "dask"}, {"id_column": None}, "needs data.id_column"),
        ({"kind": "dask"}, {"source": {"kind": "jsonl", "path": "f.jsonl"}}, "Parquet or CSV source"),
        ({"kind": "spark"}, {}, r"data\.engine\.kind"),
    ],
)
def test_a_wrong_data_engine_is_an_error_naming_the_rule(engine, changes, message) -> None:
    raw = config_dict()
    raw["data"] = {**raw["data"], "engine": engine, **changes}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "tiny.yaml")


def test_the_dask_engine_writes_a_parquet_prediction_store() -> None:
    # given the dask engine / when predictions go to a database, then to Parquet (the default)
    raw = config_dict()
    raw["data"]["engine"] = {"kind": "dask", "scheduler": "synchronous"}
    with pytest.raises(ConfigError, match="writes a Parquet prediction store"):
        parse_config({**raw, "predictions": {"kind": "sql", "url": "sqlite:///p.db"}}, "tiny.yaml")
    # then only the database is refused
    assert parse_config(raw).predictions.kind == "parquet"


def test_the_recorded_config_masks_url_passwords_and_keeps_the_rest(tiny_config: Config) -> None:
    # given a config whose prediction store is a database with a password
    config = tiny_config.model_copy(update={"predictions": SqlStore(kind="sql", url="postgresql://u:s3cret@db:5432/p")})
    # when it is turned into the record logged with every run
    record = config.to_record()
    # then the password is masked, the user, host and database stay, and nothing else changes
    assert record["predictions"]["url"] == "postgresql://u:***@db:5432/p"
    assert "s3cret" not in str(record)
    assert {k: v for k, v in record.items() if k != "predictions"} == {
        k: v for k, v in config.model_dump(mode="json").items() if k != "predictions"
    }


def test_the_request_limit_has_one_name_and_its_first_name_still_loads() -> None:
    # given configs naming the per-request row limit by its name and by the name it had before
    new, old = config_dict(), config_dict()
    new["serving"], old["serving"] = {"max_request_rows": 40}, {"max_batch_rows": 30}
    # when they load, then both set the same field, and the micro-batch size stays its own setting
    assert parse_config(new).serving.max_request_rows == 40
    assert parse_config(old).serving.max_request_rows == 30
    assert parse_config(old).serving.batch_max_rows == 512
    # and a misspelling is still an error naming the key
    typo = config_dict()
    typo["serving"] = {"max_requests_rows": 40}
    with pytest.raises(ConfigError, match="serving.max_requests_rows"):
        parse_config(typo, "tiny.yaml")


def test_release_modes_are_spelled_once_and_a_wrong_one_names_the_key() -> None:
    raw = config_dict()
    raw["serving"] = {"mode": "shadow"}
    assert parse_config(raw).serving.mode == ReleaseMode.SHADOW == "shadow"
    raw["serving"] = {"mode": "blue-green"}
    with pytest.raises(ConfigError, match="serving.mode: Input should be 'champion', 'shadow' or 'canary'"):
        parse_config(raw, "tiny.yaml")


def test_target_as_a_name_or_a_mapping_and_id_time_optional() -> None:
    # given the short form / when parsed / then it is a Target with no positive label
    raw = config_dict()
    assert parse_config(raw, "t.yaml").data.target.column == "delayed"
    # given the long form without time and id columns and no split / then the split is by hash
    raw["data"].update(target={"column": "diagnosis", "positive_label": "M"}, id_column=None, time_column=None)
    raw["data"]["features"]["datetime"] = []
    raw["evaluation"]["slices"] = ["carrier"]
    raw["validation"].pop("freshness", None)
    del raw["split"]
    config = parse_config(raw, "t.yaml")
    assert config.data.target.positive_label == "M" and config.split.kind == "hash"
    assert config.with_split() is config


def test_a_time_split_without_a_time_column_is_an_error() -> None:
    raw = config_dict()
    raw["data"]["time_column"] = None
    with pytest.raises(ConfigError, match="time split .* needs data.time_column"):
        parse_config(raw, "t.yaml")


def _timeless(**monitoring: object) -> dict:
    """The tiny config with no time column (a hash split), monitored in batch windows."""
    raw = config_dict()
    raw["data"].update(time_column=None)
    raw["data"]["features"]["datetime"] = []
    raw["validation"].pop("freshness", None)
    del raw["split"]
    raw["monitoring"] = {"window": "batch", **monitoring}
    return raw


def test_batch_windows_are_for_tables_without_time_in_memory_against_the_training_data() -> None:
    # given a table without a time column / when monitored in batches, then it loads
    assert parse_config(_timeless(), "t.yaml").monitoring.window == "batch"
    # when the table has a time column, then batch windows are refused: its windows are dates
    with_time = config_dict()
    with_time["monitoring"] = {"window": "batch"}
    with pytest.raises(ConfigError, match="batch is for tables without data.time_column.*'time_hour'"):
        parse_config(with_time, "t.yaml")
    # when the reference is a span of dates, then it is refused naming both keys
    with pytest.raises(ConfigError, match="monitoring.reference rolling reads windows of dates"):
        parse_config(_timeless(reference={"kind": "rolling"}), "t.yaml")
    # when the data runs on Dask, then it is refused (a batch is one frame)
    raw = _timeless()
    raw["data"]["engine"] = {"kind": "dask", "scheduler": "synchronous"}
    with pytest.raises(ConfigError, match="batch needs data.engine pandas"):
        parse_config(raw, "t.yaml")


def test_a_split_kind_is_chosen_by_its_keys() -> None:
    raw = config_dict()
    raw["split"] = {"kind": "hash", "holdout_share": 0.3}
    assert parse_config(raw, "t.yaml").split.holdout_share == 0.3
    raw["split"] = {"holdout_share": 0.3, "train_end": "2013-03-01"}
    with pytest.raises(ConfigError, match="unknown key `split.holdout_share`"):
        parse_config(raw, "t.yaml")


def test_a_feature_named_like_a_prediction_store_column_is_refused_by_name() -> None:
    # given a table whose feature columns include 'prediction' and 'model_version' (a scored export)
    raw = config_dict()
    raw["data"]["features"]["numeric"] = ["distance", "temp", "prediction"]
    raw["data"]["features"]["categorical"] = ["carrier", "model_version"]
    # when parsed / then both are named with the rule (scoring would write its own columns over them)
    with pytest.raises(ConfigError, match=r"data.features name \['prediction', 'model_version'\]: named like a column"):
        parse_config(raw, "scored.yaml")
    # while names close to them are features like any other
    raw["data"]["features"]["numeric"] = ["distance", "temp", "prediction_error"]
    raw["data"]["features"]["categorical"] = ["carrier", "model_year"]
    assert parse_config(raw, "scored.yaml").data.features.numeric == ("distance", "temp", "prediction_error")


def test_a_config_read_from_a_file_names_it_in_the_commands_it_suggests(tmp_path: Path, monkeypatch) -> None:
    # given a config file in a folder below the working one, and the same config parsed from a mapping
    import yaml

    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mine.yaml").write_text(yaml.safe_dump(config_dict()), encoding="utf-8")
    loaded = load_config(tmp_path / "configs" / "mine.yaml")
    # then the file's one says where it is, relative to here, the parsed one a placeholder
    assert loaded.flag == "-c configs/mine.yaml"
    assert parse_config(config_dict()).flag == "-c <config>"
    # and a copy with an update keeps it, while the file is no key of the config (its fingerprint is the same)
    assert loaded.model_copy(update={"name": "other"}).flag == "-c configs/mine.yaml"
    assert loaded.fingerprint() == parse_config(config_dict()).fingerprint()
