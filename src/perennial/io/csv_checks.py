"""The checks a CSV file must pass once read, and the sniffing of its first bytes: a wrong delimiter, a
header naming a column twice, a last line cut short, a spreadsheet's total under the data, undecodable
bytes. Each failure is a DataSourceError naming the file and what to change (io/sources.py reads)."""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from pathlib import Path

import pandas as pd

from perennial.config import FileSource
from perennial.core.footer import find_footer
from perennial.errors import DataSourceError

# Compression pandas infers from the name; the truncation check cannot read their tails, but each
# decompressor fails on a stream cut short (EOFError, BadZipFile), which is reported as truncation.
COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst", ".tar")


def compressed(path: Path) -> bool:
    return path.name.lower().endswith(COMPRESSED)


def check_no_footer(frame: pd.DataFrame, path: Path) -> None:
    """A sheet's total or notes under the data (core/footer.py) are refused, never scored or learnt."""
    footer = find_footer(frame)
    if footer is not None:
        raise DataSourceError(
            f"{path}: its last {footer.rows} row(s), from data row {footer.first + 1:,}, look like a "
            f"spreadsheet's total or notes, not records ({footer.example[:60]!r}): delete them from the file"
        )


def check_unique_header(frame: pd.DataFrame, path: Path, source: FileSource) -> None:
    """A header naming one column twice (`a,b,a`) is refused: pandas reads the second as `a.1`, a
    name in no file, and every config, served record and new-rows file would have to use it."""
    names = {str(c) for c in frame.columns}
    renamed = [n for n in names if (m := re.fullmatch(r"(.+)\.\d+", n)) and m.group(1) in names]
    if not renamed:  # the common case, told without reading the header again
        return
    header = pd.read_csv(
        path,
        sep=source.delimiter,
        encoding=source.encoding,
        header=None,
        nrows=1,
        dtype=str,
        skipinitialspace=source.skip_initial_space,
    ).iloc[0]
    repeated = header[header.duplicated()]
    # a number named twice is a first row of data (no header line): init says that, in its own words
    twice = repeated[pd.to_numeric(repeated, errors="coerce").isna()]
    if len(twice):
        name = str(twice.iloc[0])
        raise DataSourceError(
            f"{path}: the header names the column {name!r} {int((header == name).sum())} times "
            f"(read as {name!r}, {name + '.1'!r}): rename one so each column has its own name"
        )


_OTHER_DELIMITERS = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}


def check_delimiter(frame: pd.DataFrame, path: Path, delimiter: str) -> None:
    """One column whose name holds another delimiter: the file is not separated by the configured one."""
    if len(frame.columns) != 1:
        return
    header = str(frame.columns[0])
    for other, name in _OTHER_DELIMITERS.items():
        if other != delimiter and header.count(other) >= 1:
            shown = _OTHER_DELIMITERS.get(delimiter, repr(delimiter))
            raise DataSourceError(
                f"{path}: read as one column '{header[:60]}': the file looks delimited by {name}, "
                f"but the source is {shown}-separated (comma-separated unless data.source.delimiter says "
                f"otherwise): set data.source.delimiter: {other!r}"
            )


def delimiter_hint(path: Path, source: FileSource) -> str:
    """When rows have ragged field counts, a sniffed delimiter other than the configured one is the likely cause."""
    sniffed = sniff_delimiter(path, source.encoding)
    return (
        f" (the file looks {sniffed!r}-delimited: set data.source.delimiter)"
        if sniffed and sniffed != source.delimiter
        else ""
    )


def check_not_truncated(frame: pd.DataFrame, path: Path, source: FileSource) -> None:
    """A last line cut short (no final newline, fewer fields than the header): a partial copy.

    pandas fills the missing fields of a short row with nulls, which would pass as a few
    missing values; a file that ends mid-row was never completely written.
    """
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        tail = handle.read()
    if tail.endswith((b"\n", b"\r")):
        return  # ends on a row boundary: nothing to tell from the bytes
    last = tail.rsplit(b"\n", 1)[-1].decode(source.encoding, errors="replace")
    fields = next(csv.reader([last], delimiter=source.delimiter), [])
    if len(fields) < len(frame.columns):
        lines = len(frame) + 1
        raise DataSourceError(
            f"{path}: truncated: the last line ({lines:,}) ends mid-row with {len(fields)} of "
            f"{len(frame.columns)} fields and no final newline; the file looks partially written"
        )


def encoding_name(encoding: str) -> str:
    return "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding


def first_bad_byte(path: Path, encoding: str) -> str:
    """Where the first undecodable byte is (pandas reports offsets within its read chunk)."""
    if not path.is_file() or compressed(path):
        return "set data.source.encoding, e.g. latin-1"
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return (
            f"byte {exc.start:,} on line {line:,} is {data[exc.start : exc.start + 1]!r}: {exc.reason}; "
            f"save it as UTF-8 or set data.source.encoding (e.g. latin-1)"
        )
    return "undecodable bytes"


def sniff_delimiter(path: Path, encoding: str = "utf-8") -> str | None:
    """The delimiter of a CSV's first lines (',', ';', tab or '|'), or None when it cannot be told."""
    sample = text_sample(path, encoding)
    if sample is None:
        return None
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return None


def text_sample(path: Path, encoding: str = "utf-8", size: int = 65536) -> str | None:
    """The first ``size`` bytes of a (possibly compressed) text file, decoded leniently; None if unreadable."""
    from pandas.io.common import get_handle

    try:
        with get_handle(path, "rb", compression="infer", is_text=False) as handles:
            raw = handles.handle.read(size)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError):
        return None
    lines = raw.decode(encoding, errors="replace").splitlines()
    return "\n".join(lines[:-1] if len(raw) == size and len(lines) > 1 else lines)
