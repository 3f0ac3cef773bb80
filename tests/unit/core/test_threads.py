"""OpenMP threads follow the table's size: one for a small table, untouched for a large one."""

from __future__ import annotations

import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime, as a training run does)
from threadpoolctl import threadpool_info

from perennial.core.threads import SMALL_TABLE_ROWS, openmp_for


def _openmp_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}


def test_a_small_table_fits_on_one_openmp_thread_and_a_large_one_on_all() -> None:
    before = _openmp_threads()
    assert before, "scikit-learn's OpenMP runtime is loaded"
    # when a small table is fitted / then one thread, and the limit is lifted after
    with openmp_for(600):
        assert _openmp_threads() == {1}
    assert _openmp_threads() == before
    # when a large one is / then the threads are left as they were
    with openmp_for(SMALL_TABLE_ROWS):
        assert _openmp_threads() == before
