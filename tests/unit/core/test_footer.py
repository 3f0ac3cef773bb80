"""A spreadsheet's total row and notes under an exported table are found; records are not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.core.footer import find_footer


def sheet() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "region": rng.choice(["north", "south"], 50),
            "age": rng.integers(18, 70, 50).astype(float),
            "charges": rng.uniform(1_000, 40_000, 50).round(2),
        }
    )


def test_a_total_row_that_sums_the_columns_is_a_footer_with_its_notes_and_blank_lines() -> None:
    # given an exported sheet: its rows, a Total row summing them, a blank line, then a source note
    rows = sheet()
    total = pd.DataFrame({"region": ["Total"], "age": [rows["age"].sum()], "charges": [rows["charges"].sum()]})
    blank = pd.DataFrame({"region": [None], "age": [np.nan], "charges": [np.nan]})
    note = pd.DataFrame({"region": ["Source: claims extract, 2024"], "age": [np.nan], "charges": [np.nan]})
    # when the footer is looked for, then it spans those three rows and names the first that gave it away
    found = find_footer(pd.concat([rows, total, blank, note], ignore_index=True))
    assert found is not None and (found.first, found.rows) == (50, 3)
    # when the Total row alone closes the sheet, then it alone is the footer
    alone = find_footer(pd.concat([rows, total], ignore_index=True))
    assert alone is not None and (alone.first, alone.rows, alone.example) == (50, 1, "Total")


def test_a_note_split_at_its_commas_is_a_note_and_does_not_hide_the_total_above() -> None:
    # given a Total row, a blank line, then a note typed under the data with an unquoted comma, which
    # splits it over two fields ("Source: lab records 2024" and "exported from Sheets")
    rows = sheet().assign(visits=1.0, score=2.0)
    total = rows.sum(numeric_only=True).to_frame().T.assign(region="Total")
    blank = pd.DataFrame({"region": [None]})
    note = pd.DataFrame({"region": ["Source: lab records 2024"], "age": ["exported from Sheets"]})
    # when the footer is looked for, then it spans the three rows and names the Total row
    found = find_footer(pd.concat([rows, total, blank, note], ignore_index=True))
    assert found is not None and (found.first, found.rows, found.example) == (50, 3, "Total")
    # and a last line the scan cannot name, under a Total row, is part of that footer
    aside = pd.DataFrame({"region": ["see tab 2"], "age": ["v3"]})
    found = find_footer(pd.concat([rows, total, aside], ignore_index=True))
    assert found is not None and (found.first, found.rows, found.example) == (50, 2, "Total")
    # and the split note alone closes the sheet: it alone is the footer
    found = find_footer(pd.concat([rows, note], ignore_index=True))
    assert found is not None and (found.first, found.rows) == (50, 1)
    assert found.example == "Source: lab records 2024, exported from Sheets"


def test_records_that_merely_hold_the_word_or_few_values_are_kept() -> None:
    rows = sheet()
    # given a last record whose region reads 'Total' but whose numbers are its own (not sums, not means)
    own = pd.concat([rows, pd.DataFrame({"region": ["Total"], "age": [33.0], "charges": [5.0]})], ignore_index=True)
    # and a last record with one short value filled, the rest missing
    sparse = pd.concat(
        [rows, pd.DataFrame({"region": ["north"], "age": [np.nan], "charges": [np.nan]})], ignore_index=True
    )
    # when the footer is looked for, then none is found in either, nor in the plain sheet
    assert find_footer(own) is None and find_footer(sparse) is None and find_footer(rows) is None
