from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from perennial.config import FileSource, SqlSource
from perennial.errors import DataSourceError
from perennial.io.sources import describe_source, float_precision, open_lazy, read_sample, read_source


def test_parquet_csv_and_sql_sources_read_the_same_rows(tmp_path: Path, flights: pd.DataFrame) -> None:
    # given the same frame as Parquet, CSV and a SQLite table
    flights.to_parquet(tmp_path / "f.parquet", index=False)
    flights.to_csv(tmp_path / "f.csv", index=False)
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'f.db'}"
    flights.assign(time_hour=flights["time_hour"].astype(str)).to_sql("flights", create_engine(url), index=False)
    # when each is read
    frames = [
        read_source(FileSource(kind="parquet", path="f.parquet"), tmp_path),
        read_source(FileSource(kind="csv", path=str(tmp_path / "f.csv"))),
        read_source(SqlSource(kind="sql", url=url, query="select * from flights where temp > -1000")),
    ]
    # then they hold the same rows
    assert [len(f) for f in frames] == [len(flights)] * 3


@pytest.mark.parametrize(
    ("name", "content", "kind", "message"),
    [
        ("missing.csv", None, "csv", "file does not exist"),
        ("empty.csv", b"", "csv", "file is empty"),
        ("header.csv", b"a,b,c\n", "csv", "no rows"),
        ("latin1.csv", "a,b\ncaf\xe9,1\n".encode("latin-1"), "csv", "not UTF-8"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "csv", "malformed CSV"),
        ("corrupt.parquet", b"PAR1 this is not parquet", "parquet", "cannot be read as parquet"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(
    tmp_path: Path, name: str, content: bytes | None, kind: str, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataSourceError, match=message) as raised:
        read_source(FileSource(kind=kind, path=name), tmp_path)  # type: ignore[arg-type]
    assert name in str(raised.value)


def test_an_unreachable_database_is_transient_and_hides_the_password() -> None:
    source = SqlSource(kind="sql", url="postgresql+psycopg://user:s3cret@127.0.0.1:1/db", query="select 1")
    with pytest.raises(DataSourceError) as raised:
        read_source(source)
    assert "s3cret" not in str(raised.value) and "127.0.0.1" in str(raised.value)
    assert "***" in describe_source(source)


def test_an_unreachable_sqlite_file_is_a_transient_error(tmp_path: Path) -> None:
    source = SqlSource(kind="sql", url=f"sqlite:///{tmp_path}/no/such/dir/x.db", query="select 1")
    with pytest.raises(DataSourceError, match="cannot connect") as raised:
        read_source(source)
    assert raised.value.transient


@pytest.fixture
def cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.iloc[:200, [0, 1, 2, -1]]
    return frame.assign(target=frame["target"].map({0: "M", 1: "B"}))


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".csv.zst"])
def test_compressed_csv_is_read_by_its_name(tmp_path: Path, cancer: pd.DataFrame, suffix: str) -> None:
    # given the same rows compressed as the suffix says
    path = tmp_path / f"cancer{suffix}"
    cancer.to_csv(path, index=False)
    # when read / then the rows are the same
    read = read_source(FileSource(kind="csv", path=str(path)))
    pd.testing.assert_frame_equal(read, cancer)


def test_a_truncated_gzip_is_reported_as_truncated(tmp_path: Path, cancer: pd.DataFrame) -> None:
    path = tmp_path / "cancer.csv.gz"
    cancer.to_csv(path, index=False)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataSourceError, match="truncated: the compressed stream ends early"):
        read_source(FileSource(kind="csv", path=str(path)))


def test_partitioned_parquet_and_json_lines(tmp_path: Path, cancer: pd.DataFrame) -> None:
    # given a Parquet directory partitioned by the label, and JSON lines
    cancer.to_parquet(tmp_path / "parts", partition_cols=["target"], index=False)
    cancer.to_json(tmp_path / "c.jsonl.gz", orient="records", lines=True)
    # when read / then every row is there and the partition column is plain text again
    parts = read_source(FileSource(kind="parquet", path=str(tmp_path / "parts")))
    assert len(parts) == len(cancer) and parts["target"].dtype == object
    assert sorted(parts["target"].unique()) == ["B", "M"]
    lines = read_source(FileSource(kind="jsonl", path=str(tmp_path / "c.jsonl.gz")))
    # to the last bit: read 1.7000000000000002 for 1.7, a row's content key differed from its CSV copy's
    pd.testing.assert_frame_equal(lines, cancer, check_exact=True)


def test_a_parquet_sample_is_the_first_rows_of_the_whole_read(
    tmp_path: Path, cancer: pd.DataFrame, flights: pd.DataFrame
) -> None:
    # given a Parquet file of several row groups, and a directory partitioned by the label
    flights.to_parquet(tmp_path / "f.parquet", index=False, row_group_size=500)
    cancer.to_parquet(tmp_path / "parts", partition_cols=["target"], index=False)
    for source in (FileSource(kind="parquet", path="f.parquet"), FileSource(kind="parquet", path="parts")):
        # when sampled / then it is the whole read's first rows, with the same types
        whole = read_source(source, tmp_path)
        pd.testing.assert_frame_equal(read_sample(source, tmp_path, rows=700), whole.head(700))
    # and a file that is not Parquet is named in the error, as a whole read names it
    (tmp_path / "not.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataSourceError, match=r"not\.parquet: cannot be read as parquet"):
        read_sample(FileSource(kind="parquet", path="not.parquet"), tmp_path)


def test_delimiter_and_encoding_from_config_and_a_wrong_guess_says_what_to_set(
    tmp_path: Path, cancer: pd.DataFrame
) -> None:
    # given a semicolon-delimited latin-1 file with accents
    path = tmp_path / "euro.csv"
    cancer.assign(target=cancer["target"].map({"M": "malin", "B": "bénin"})).to_csv(
        path, sep=";", index=False, encoding="latin-1"
    )
    # when read as configured / then the accents survive
    read = read_source(FileSource(kind="csv", path=str(path), delimiter=";", encoding="latin-1"))
    assert set(read["target"]) == {"malin", "bénin"}
    # when read with the defaults / then the error names the key to set
    with pytest.raises(DataSourceError, match="not UTF-8 text .*set data.source.encoding"):
        read_source(FileSource(kind="csv", path=str(path)))
    with pytest.raises(DataSourceError, match="delimited by ';'.*set data.source.delimiter: ';'"):
        read_source(FileSource(kind="csv", path=str(path), encoding="latin-1"))


def test_parquets_nullable_types_are_read_as_plain_ones_in_memory_and_over_partitions(tmp_path: Path) -> None:
    # given a Parquet file written from pandas' nullable types, with missing values in each
    frame = pd.DataFrame(
        {
            "amount": pd.array([3, None, 5, 7], dtype="Int64"),
            "ratio": pd.array([0.5, 1.5, None, 2.0], dtype="Float64"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "name": pd.array(["a", "b", None, "a"], dtype="string"),
            "kind": pd.Categorical(["x", "y", "x", "y"]),
        }
    )
    path = tmp_path / "nullable.parquet"
    frame.to_parquet(path, index=False)
    source = FileSource(kind="parquet", path=str(path))
    # when read whole, and lazily over partitions
    read = read_source(source)
    lazy = open_lazy(source).compute()
    # then no pandas.NA is left (scikit-learn refuses it): numbers are float64 with NaN, the rest objects
    assert read.dtypes.astype(str).to_dict() == {
        "amount": "float64",
        "ratio": "float64",
        "flag": "object",
        "name": "object",
        "kind": "object",
    }
    assert read["amount"].isna().tolist() == [False, True, False, False] and read["amount"].iloc[2] == 5.0
    assert read["flag"].tolist()[::2] == [True, False] and pd.isna(read["flag"].iloc[1])
    assert not any(v is pd.NA for column in read.columns for v in read[column])
    # and the partitioned path reads the same values in the same types
    pd.testing.assert_frame_equal(lazy.reset_index(drop=True), read)


def test_parquet_decimals_are_read_as_numbers_in_memory_and_over_partitions(tmp_path: Path) -> None:
    # given a Parquet file with a decimal128 column (money), with a missing value
    import pyarrow as pa
    import pyarrow.parquet as pq

    amounts = pa.array([Decimal("1001.00"), None, Decimal("2.50")], type=pa.decimal128(12, 2))
    pq.write_table(pa.table({"amount": amounts, "name": ["a", "b", "c"]}), tmp_path / "money.parquet")
    source = FileSource(kind="parquet", path=str(tmp_path / "money.parquet"))
    # when read whole, as a sample, and lazily
    read, sample, lazy = read_source(source), read_sample(source, rows=2), open_lazy(source).compute()
    # then the decimals are float64 numbers (not Decimal objects: profiled as text, untypable by MLflow)
    assert read["amount"].dtype == "float64" and read["amount"].iloc[0] == 1001.0 and pd.isna(read["amount"].iloc[1])
    assert sample["amount"].dtype == "float64" and lazy["amount"].dtype == "float64"
    # and text stays text
    assert read["name"].dtype == object and read["name"].tolist() == ["a", "b", "c"]


def test_a_sheet_exported_with_its_total_row_and_notes_is_refused_naming_the_rows(
    tmp_path: Path, cancer: pd.DataFrame
) -> None:
    # given the table saved from a spreadsheet with a Total row and a source note under it
    path = tmp_path / "cancer.csv"
    numbers = cancer.select_dtypes("number")
    total = {c: (numbers[c].sum() if c in numbers else None) for c in cancer.columns}
    first = cancer.columns[0]
    total[first] = "Total"
    note = dict.fromkeys(cancer.columns)
    note[first] = "Source: Wisconsin diagnostic breast cancer data"
    pd.concat([cancer, pd.DataFrame([total, note])], ignore_index=True).to_csv(path, index=False)
    # when it is read / then the error names the file, the rows and what gave them away
    with pytest.raises(DataSourceError, match=rf"last 2 row\(s\), from data row {len(cancer) + 1:,}.*'Total'"):
        read_source(FileSource(kind="csv", path=str(path)))
    # when the rows are deleted, then it reads as before
    cancer.to_csv(path, index=False)
    assert len(read_source(FileSource(kind="csv", path=str(path)))) == len(cancer)


def test_a_header_naming_a_column_twice_is_refused_naming_it(tmp_path: Path) -> None:
    # given a CSV whose header names `a` twice, and one with distinct columns `a` and `a.1`
    (tmp_path / "twice.csv").write_text("a,b,a,y\n" + "1,2,3,0\n4,5,6,1\n" * 20)
    (tmp_path / "distinct.csv").write_text("a,b,a.1,y\n" + "1,2,3,0\n4,5,6,1\n" * 20)
    # when each is read, whole or as a sample (as training and `check` read it)
    # then the first is refused naming the file and the name (pandas silently read the second as `a.1`)
    for read in (read_source, read_sample):
        with pytest.raises(DataSourceError, match=r"twice.csv: the header names the column 'a' 2 times"):
            read(FileSource(kind="csv", path=str(tmp_path / "twice.csv")))
    # and a name that only looks renamed is read as written
    assert list(read_source(FileSource(kind="csv", path=str(tmp_path / "distinct.csv"))).columns) == [
        "a",
        "b",
        "a.1",
        "y",
    ]


def test_a_number_written_with_17_digits_is_read_as_the_float_it_names_on_both_paths(tmp_path: Path) -> None:
    # given floats written as Python writes them (up to 17 significant digits), and the same as JSON would carry
    import numpy as np

    from perennial.core.data import content_keys

    exact = np.random.default_rng(0).random(5_000) * 1000
    (tmp_path / "x.csv").write_text("x\n" + "\n".join(repr(float(v)) for v in exact) + "\n")
    loose = pd.read_csv(tmp_path / "x.csv")["x"].to_numpy()
    assert (loose != exact).sum() > 100  # pandas' default parser: the check can fail
    # when read in memory and over partitions
    source = FileSource(kind="csv", path=str(tmp_path / "x.csv"))
    frames = [read_source(source), open_lazy(source).compute(scheduler="synchronous")]
    # then every value is the exact float, and a row's content key is its served twin's
    served = pd.DataFrame({"x": [float(v) for v in exact]})
    pd.DataFrame({"x": exact}).to_csv(tmp_path / "x.csv.gz", index=False)  # pandas writes repr too
    frames.append(read_source(FileSource(kind="csv", path=str(tmp_path / "x.csv.gz"))))
    for frame in frames:
        assert (frame["x"].to_numpy() == exact).all()
        pd.testing.assert_series_equal(content_keys(frame, ["x"]), content_keys(served, ["x"]))


def test_only_a_file_holding_long_numbers_pays_for_the_exact_parser(tmp_path: Path) -> None:
    # given a file of short decimals, one with a 16-digit number past its first line, and one with a decimal comma
    (tmp_path / "short.csv").write_text("a,b\n1.25,3\n" * 50)
    (tmp_path / "long.csv").write_text("a,b\n1.25,3\n" * 50 + "0.1234567890123456,4\n")
    (tmp_path / "comma.csv").write_text("a;b\n1234567,890123456;3\n")
    # when the parser is chosen, then only the files with 16 digits in one number read exactly
    short, long = (FileSource(kind="csv", path=str(tmp_path / f"{n}.csv")) for n in ("short", "long"))
    assert float_precision(tmp_path / "short.csv", short) is None
    assert float_precision(tmp_path / "long.csv", long) == "round_trip"
    comma = FileSource(kind="csv", path=str(tmp_path / "comma.csv"), delimiter=";", decimal=",")
    assert float_precision(tmp_path / "comma.csv", comma) == "round_trip"
    # a glob is judged by its first file (comma.csv): its 16 digits with a decimal comma, 7 and 9 without
    assert float_precision(tmp_path / "*.csv", comma) == "round_trip"
    assert float_precision(tmp_path / "*.csv", short) is None
