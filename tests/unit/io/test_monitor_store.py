from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from perennial.core.episode_records import Episode
from perennial.core.estimate import Estimate
from perennial.core.retraining import WindowVerdict
from perennial.core.validation_units import Accepted
from perennial.core.yardstick import ChampionFigure
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


def test_each_columns_quartiles_come_from_the_last_valid_window_before_the_one_judged(tmp_path: Path) -> None:
    # given four weeks monitored: two valid (the second without its labels yet), one refused, one later
    store = MonitorStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.record_window(
        "f", WindowVerdict("2013-07-01", 0.1, None, True), AT, quartiles={"fare": (1, 2, 3), "km": (4, 5, 6)}
    )
    store.record_window("f", WindowVerdict("2013-07-08", 0.1, None, True), AT, quartiles={"km": (7.5, 8, 9)})
    store.record_window("f", WindowVerdict("2013-07-15", 0.1, None, False), AT, quartiles={"fare": (100, 200, 300)})
    store.record_window("f", WindowVerdict("2013-07-29", 0.1, None, True), AT, quartiles={"fare": (9, 9, 9)})
    store.record_window("other", WindowVerdict("2013-07-22", 0.1, None, True), AT, quartiles={"fare": (0, 0, 0)})
    # when the week of 2013-07-22 is judged
    earlier = store.accepted_quartiles("f", before="2013-07-22")
    # then each column's comes from its own last valid week: never the refused one, a later one or another dataset's
    assert earlier == {"fare": Accepted("2013-07-01", (1.0, 2.0, 3.0)), "km": Accepted("2013-07-08", (7.5, 8.0, 9.0))}
    assert store.accepted_quartiles("f", before="2013-07-01") == {}
    # and a window re-run as refused no longer lends its quartiles
    store.record_window("f", WindowVerdict("2013-07-08", 0.1, None, False), AT, quartiles={"km": (7.5, 8, 9)})
    assert store.accepted_quartiles("f", before="2013-07-22")["km"] == Accepted("2013-07-01", (4.0, 5.0, 6.0))


def test_a_store_made_before_the_sure_drop_was_kept_gains_its_column_and_keeps_its_rows(tmp_path: Path) -> None:
    # given a monitor store as an earlier release wrote it: no performance_sure_drop column
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE monitored_windows (id INTEGER PRIMARY KEY, dataset VARCHAR(200), window VARCHAR(40), "
            "drift_share FLOAT, performance_drop FLOAT, data_valid BOOLEAN, at DATETIME, UNIQUE (dataset, window))"
        )
        old.execute("INSERT INTO monitored_windows VALUES (1, 'f', '2013-07-01', 0.1, 0.05, 1, '2013-07-08 00:00:00')")
    # when it is opened / then its window reads back with no sure drop, and a new one keeps it
    store = MonitorStore(f"sqlite:///{path}")
    store.record_window("f", WindowVerdict("2013-07-08", 0.2, 0.06, True, performance_sure_drop=0.01), AT)
    history = store.history("f")
    assert [(v.window, v.performance_drop, v.performance_sure_drop) for v in history] == [
        ("2013-07-01", 0.05, None),
        ("2013-07-08", 0.06, 0.01),
    ]


def test_a_dedupe_key_is_claimed_once_even_from_two_stores(tmp_path: Path) -> None:
    # given two monitors on the same database (two processes would be the same)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first, second = MonitorStore(url), MonitorStore(url)
    # when both claim the same episode
    claims = [
        first.claim_retrain("f:drift:w1", "f", "drift", "why", AT),
        second.claim_retrain("f:drift:w1", "f", "drift", "why", AT),
    ]
    # then exactly one wins, and the cooldown clock starts at it
    assert claims == [True, False]
    assert second.seen_keys("f") == {"f:drift:w1"}
    assert first.last_retrain_at("f") == AT and first.last_retrain_at("g") is None


def _race(url: str, keys: list[str], cooldown: dt.timedelta) -> list[bool]:
    """Each key claimed by its own store in its own thread, all released at once."""
    stores = [MonitorStore(url) for _ in keys]
    start = threading.Barrier(len(keys))

    def claim(store: MonitorStore, key: str) -> bool:
        start.wait()
        return store.claim_retrain(key, "f", "drift", key, AT, cooldown)

    with ThreadPoolExecutor(len(keys)) as pool:
        won = list(pool.map(claim, stores, keys))
    for store in stores:
        store.close()
    return won


def test_two_triggers_racing_within_the_cooldown_yield_one_retrain(tmp_path: Path) -> None:
    # given one database, and two monitors that decided a retrain for two windows (two dedupe keys)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    MonitorStore(url).close()
    # when both claim at the same moment, with a 14-day cooldown
    won = _race(url, ["f:drift:w1", "f:drift:w2"], dt.timedelta(days=14))
    # then exactly one retrain is claimed: the cooldown is checked and claimed in one transaction
    assert sorted(won) == [False, True]
    assert len(MonitorStore(url).seen_keys("f")) == 1


def test_without_a_cooldown_both_windows_are_claimed_and_a_repeat_is_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    MonitorStore(url).close()
    assert _race(url, ["f:drift:w1", "f:drift:w2"], dt.timedelta(0)) == [True, True]
    assert _race(url, ["f:drift:w1", "f:drift:w1"], dt.timedelta(0)) == [False, False]
    # a claim after the cooldown has passed goes through
    later = MonitorStore(url)
    assert later.claim_retrain("f:drift:w3", "f", "drift", "why", AT + dt.timedelta(days=15), dt.timedelta(days=14))
    assert not later.claim_retrain("f:drift:w4", "f", "drift", "why", AT + dt.timedelta(days=16), dt.timedelta(days=14))


def test_an_episode_round_trips_and_learns_its_retrains_ending_from_the_training_run(tmp_path: Path) -> None:
    # given an open episode whose retrain holds out to 2013-08-01, and a closed older one
    store = MonitorStore(f"sqlite:///{tmp_path / 'm.db'}")
    old = Episode("f", "2013-05", "2013-06", end="2013-06", windows=2, calm=(False, True), closed_by="k of n")
    running = Episode(
        "f", "2013-07", "2013-07", retrains=1, retrain="2013-08-01", calm=(False,), target=0.92, drop=0.24
    )
    store.save_episode(old)
    store.save_episode(running)
    store.save_episode(Episode("other", "2013-07", "2013-07"))
    # then the open one comes back as written, still running
    assert store.open_episode("f") == running
    # when the training run records its ending (another retrain's ending is not its own)
    store.record_outcome("f", "2013-09-01", "failed", "3", AT)
    assert store.open_episode("f") == running
    store.record_outcome("f", "2013-08-01", "promoted", "2", AT)
    # then the open episode carries it, and the list is newest first
    assert store.open_episode("f") == running.with_outcome("promoted", "2")
    assert [e.start for e in store.episodes("f")] == ["2013-07", "2013-05"]
    # and closing it leaves no open episode; saving again updates, not duplicates
    store.save_episode(replace(running, end="2013-08", closed_by="absorbed by the promoted v2"))
    assert store.open_episode("f") is None and len(store.episodes("f")) == 2
    assert store.episodes("f")[0].closed_by == "absorbed by the promoted v2"


def test_a_champion_s_live_figures_are_its_own_first_valid_labelled_windows_before_the_one_judged(
    tmp_path: Path,
) -> None:
    # given windows judged by v2 (one invalid, one unlabelled, one in another metric), one by v1
    store = MonitorStore(f"sqlite:///{tmp_path / 'm.db'}")
    auc = Estimate(0.84, 0.83, 0.85)
    for window, valid, figure in [
        ("2013-09", True, ChampionFigure("2", "roc_auc", Estimate(0.80, 0.79, 0.81))),
        ("2013-06", True, ChampionFigure("1", "roc_auc", auc)),
        ("2013-07", False, ChampionFigure("2", "roc_auc", auc)),
        ("2013-08", True, None),
        ("2013-10", True, ChampionFigure("2", "average_precision", auc)),
        ("2013-11", True, ChampionFigure("2", "roc_auc", auc)),
        ("2013-12", True, ChampionFigure("2", "roc_auc", auc)),
        ("2014-01", True, ChampionFigure("2", "roc_auc", auc)),
    ]:
        store.record_window("f", WindowVerdict(window, 0.0, None, valid), AT, figure)
    # when v2's roc_auc figures before January 2014 are read / then its first valid labelled ones, oldest first
    live = store.live_figures("f", "2", "roc_auc", before="2014-01")
    assert [(f.window, f.estimate.value) for f in live] == [("2013-09", 0.80), ("2013-11", 0.84), ("2013-12", 0.84)]
    assert store.live_figures("f", "2", "roc_auc", before="2013-09") == []
    # and a window monitored again without labels drops its figure
    store.record_window("f", WindowVerdict("2013-09", 0.0, None, True), AT)
    assert [f.window for f in store.live_figures("f", "2", "roc_auc", before="2014-02")] == [
        "2013-11",
        "2013-12",
        "2014-01",
    ]


def test_the_history_carries_each_window_s_champion_and_the_reach_of_its_interval_towards_a_better_figure(
    tmp_path: Path,
) -> None:
    # given a score, a loss and an unlabelled window
    store = MonitorStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.record_window(
        "f", WindowVerdict("a", 0.0, 0.04, True), AT, ChampionFigure("2", "roc_auc", Estimate(0.76, 0.73, 0.79))
    )
    store.record_window(
        "f", WindowVerdict("b", 0.0, 0.5, True), AT, ChampionFigure("3", "mae", Estimate(4.0, 3.0, 4.5))
    )
    store.record_window("f", WindowVerdict("c", 0.0, None, True), AT)
    # then the score reaches up to its high end, the loss down to its low end: what pooled windows weigh
    got = [
        (v.champion, None if v.performance_spread is None else round(v.performance_spread, 6))
        for v in store.history("f")
    ]
    assert got == [("2", 0.03), ("3", 1.0), (None, None)]
