from __future__ import annotations

import pandas as pd

from perennial.core.column_types import infer_types
from perennial.core.date_formats import several_date_formats

MIXED = ["2022-10-08", "02/04/2021", "Oct 08, 2022", "20221008"]


def test_dates_written_in_several_formats_are_said_as_dates_with_one_example_of_each_way() -> None:
    # given a text column of dates written four ways
    values = pd.Series(MIXED * 50)
    # when / then it is named as dates, each way shown once, with the edit that makes them usable
    assert several_date_formats(values) == (
        "dates written in several formats ('2022-10-08', '02/04/2021', 'Oct 08, 2022', '20221008'): write them "
        "one way (ISO 8601, e.g. 2022-10-08) to use them as a datetime feature or time column"
    )


def test_one_format_versions_words_and_text_with_years_are_not_dates_in_several_formats() -> None:
    # one way of writing (a date column init parses), versions that dateutil would read as dates (no
    # year), words, and free text holding a year in a date's neighbourhood
    for values in (
        ["Oct 08, 2022", "Nov 10, 2021"],
        ["1.2.3", "1.10.2", "2.0.11"],
        ["May", "June", "July"],
        ["opened 2021", "2020-01-05 then closed", "Oct 08, 2022"],
    ):
        assert several_date_formats(pd.Series(values * 10)) is None, values


def test_init_leaves_out_a_column_of_mixed_date_formats_as_dates_not_as_free_text() -> None:
    # given a table with a column of dates written in several ways (a value a day: too many for a category)
    days = pd.date_range("2021-01-01", periods=400, freq="D")
    formats = ("%Y-%m-%d", "%d/%m/%Y", "%b %d, %Y", "%Y%m%d")
    visits = [day.strftime(formats[i % 4]) for i, day in enumerate(days)]
    frame = pd.DataFrame({"x": range(400), "visit_date": visits, "y": [0, 1] * 200})
    # when typed / then it is left out as dates written several ways, not as "an id or free text"
    dropped = infer_types(frame, exclude=("y",)).dropped
    assert dropped["visit_date"].startswith("dates written in several formats ('2021-01-01', '02/01/2021', ")
