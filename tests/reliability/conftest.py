"""Reliability tests: the bad-input corpus, concurrency on the stores, doctor, security.

Flow-level tests ask for ``prefect_harness`` (one per xdist worker, only when needed) and
share one worker, so the harness starts once; the pure tests need neither.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability" in str(item.fspath) and "prefect_harness" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("reliability-harness"))
