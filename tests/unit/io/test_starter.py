from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from perennial.config import parse_config
from perennial.errors import ConfigError
from perennial.io.starter import source_for, starter_config


@pytest.fixture
def table() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_"))
    return frame.assign(diagnosis=bunch.frame["target"].map({0: "malin", 1: "bénin"}))


def test_init_sniffs_delimiter_and_encoding_and_writes_a_config_that_loads(tmp_path: Path, table: pd.DataFrame) -> None:
    # given a semicolon-delimited latin-1 file
    path = tmp_path / "euro.csv"
    table.to_csv(path, sep=";", encoding="latin-1", index=False)
    # when a starter config is written
    text = starter_config(path, "diagnosis", "malin")
    config = parse_config(yaml.safe_load(text), "starter.yaml")
    # then it reads the file as it is, names the positive label, and has no time, id or time split
    assert (config.data.source.delimiter, config.data.source.encoding) == (";", "cp1252")
    assert config.data.target.positive_label == "malin" and config.split.kind == "hash"
    assert config.data.features.numeric == tuple(table.columns[:6])
    assert "# time column: no column holds timestamps" in text and "# cost:" in text


def test_init_errors_name_the_flag_and_the_closest_column(tmp_path: Path, table: pd.DataFrame) -> None:
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"--target diagnsis: no such column, did you mean `diagnosis`\?"):
        starter_config(path, "diagnsis")
    with pytest.raises(ConfigError, match=r"cannot tell which value .* pass --positive-label with one of them"):
        starter_config(path, "diagnosis")


def test_a_time_column_gives_a_time_split_over_its_range(tmp_path: Path, table: pd.DataFrame) -> None:
    path = tmp_path / "t.parquet"
    table.assign(at=pd.date_range("2024-01-01", periods=len(table), freq="h")).to_parquet(path)
    config = parse_config(yaml.safe_load(starter_config(path, "diagnosis", "malin", time="at")), "s.yaml")
    assert config.split.kind == "time" and config.data.time_column == "at"
    assert str(config.split.holdout_end) > str(config.split.train_end) >= "2024-01-02"
    assert source_for(path, "t.parquet").kind == "parquet"
