from __future__ import annotations

import datetime as dt
from pathlib import Path

from perennial.core.retraining import WindowVerdict
from perennial.io.monitor_store import MonitorStore

AT = dt.datetime(2013, 8, 1, tzinfo=dt.UTC)


def test_windows_are_kept_in_order_and_a_rerun_replaces_its_verdict(tmp_path: Path) -> None:
    store = MonitorStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.record_window("f", WindowVerdict("2013-07-08", 0.1, None, True), AT)
    store.record_window("f", WindowVerdict("2013-07-01", 0.6, 0.01, True), AT)
    store.record_window("f", WindowVerdict("2013-07-08", 0.7, 0.05, True), AT)  # re-run
    store.record_window("other", WindowVerdict("2013-07-01", 0.9, None, False), AT)
    assert [(v.window, v.drift_share) for v in store.history("f")] == [("2013-07-01", 0.6), ("2013-07-08", 0.7)]
    assert [v.window for v in store.history("f", until="2013-07-01")] == ["2013-07-01"]


def test_a_dedupe_key_is_claimed_once_even_from_two_stores(tmp_path: Path) -> None:
    # given two monitors on the same database (two processes would be the same)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first, second = MonitorStore(url), MonitorStore(url)
    # when both claim the same episode
    claims = [first.claim_retrain("f:drift:w1", "f", "drift", "why", AT), second.claim_retrain("f:drift:w1", "f", "drift", "why", AT)]
    # then exactly one wins, and the cooldown clock starts at it
    assert claims == [True, False]
    assert second.seen_keys("f") == {"f:drift:w1"}
    assert first.last_retrain_at("f") == AT and first.last_retrain_at("g") is None
