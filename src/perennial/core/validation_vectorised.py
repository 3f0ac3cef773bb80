"""The column checks of a data contract, decided the way Great Expectations decides them, in pandas.

Great Expectations costs seconds on a million rows (a context, a suite, one frame copy per
column check, metric resolution); the same five kinds of check are a handful of vectorised
pandas operations. Verdicts and observed text follow GX 1.x exactly, so the two engines are
interchangeable (tests/unit/core/test_validation_vectorised.py proves it on failing cases):

- ``not_null``: the share of non-null rows over all rows must reach ``mostly``;
- ``between``, ``in_set``, ``unique``: null values are left out; the share of the rest that
  pass must reach ``mostly`` (``unique``: 1.0); no non-null value is vacuously a pass;
- the sample of offending values is the first 20 in row order, as GX's BASIC result format.

The batch scoring path uses this engine; the validation and training flows keep GX for the
report and the suite a reviewer can open.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from perennial.core.validation_gx import ColumnCheck, outcome_text

PARTIAL = 20  # offending values GX keeps in a BASIC result


class Nulls:
    """Each column's null mask and present values, worked out once per frame.

    ``isna`` on a text column costs ~35 ms a million rows, and a column's rules and checks
    asked for it five or six times: most of the engine's time on the flights contract.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._masks: dict[str, np.ndarray] = {}
        self._present: dict[str, pd.Series] = {}

    def mask(self, column: str) -> np.ndarray:
        if column not in self._masks:
            self._masks[column] = self._frame[column].isna().to_numpy()
        return self._masks[column]

    def count(self, column: str) -> int:
        return int(self.mask(column).sum())

    def present(self, column: str) -> pd.Series:
        """The column's non-null values, in row order."""
        if column not in self._present:
            mask = self.mask(column)
            values = self._frame[column]
            self._present[column] = values[~mask] if mask.any() else values
        return self._present[column]


def run_checks(
    frame: pd.DataFrame, checks: Sequence[ColumnCheck], nulls: Nulls | None = None
) -> list[tuple[bool, str]]:
    """(passed, observed) for each check, in order: GX's verdicts without GX. ``nulls``: the frame's
    masks if the caller already worked some out."""
    masks: dict[tuple[str, str, int], np.ndarray] = {}  # checks of one column on one value set share it
    nulls = nulls if nulls is not None else Nulls(frame)
    return [_check(frame, check, masks, nulls) for check in checks]


def _check(
    frame: pd.DataFrame, check: ColumnCheck, masks: dict[tuple[str, str, int], np.ndarray], nulls: Nulls
) -> tuple[bool, str]:
    if check.expect == "exists":
        exists = check.column in frame.columns
        return exists, "present" if exists else "missing"
    if check.column not in frame.columns:
        return False, f"could not be checked: column '{check.column}' is not in the frame"
    total = len(frame)
    if check.expect == "not_null":
        bad = nulls.count(check.column)
        passed = total == 0 or (total - bad) / total >= check.mostly
        return passed, outcome_text(check, total, bad, 0, [])
    present = nulls.present(check.column)
    # the value set is the same object in both checks of a categorical column (validation.value_checks)
    key = (check.column, check.expect, id(check.options.get("value_set")))
    try:
        cached = masks.get(key) if check.expect == "in_set" else None
        ok = cached if cached is not None else passing(present, check)
        if check.expect == "in_set":
            masks[key] = ok
    except TypeError as exc:  # GX reports a comparison that raises as an error, not a verdict
        return False, f"could not be checked: {str(exc).splitlines()[0][:200]}"
    bad = int(len(ok) - ok.sum())
    mostly = 1.0 if check.expect == "unique" else check.mostly
    passed = len(present) == 0 or (len(present) - bad) / len(present) >= mostly
    offending = present[~ok].head(PARTIAL).tolist() if bad else []
    return passed, outcome_text(check, total, bad, total - len(present), offending)


def passing(present: pd.Series, check: ColumnCheck) -> np.ndarray:
    """A boolean per non-null value: does it pass the check?"""
    if check.expect == "unique":
        return ~present.duplicated(keep=False).to_numpy()
    if check.expect == "in_set":
        return present.isin(check.options["value_set"]).to_numpy()
    low, high = check.options.get("min_value"), check.options.get("max_value")
    ok = np.ones(len(present), dtype=bool)
    if low is not None:
        ok &= (present >= low).to_numpy()
    if high is not None:
        ok &= (present <= high).to_numpy()
    return ok
