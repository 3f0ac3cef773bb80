"""The window arithmetic, the label join, the window's performance and the event it calls for."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from perennial.config import Config
from perennial.core.drift import ColumnDrift, DriftReport
from perennial.core.episode_records import Episode
from perennial.core.estimate import Estimate
from perennial.core.events import DataInvalid, DriftDetected, DriftPersistent, PerformanceDegraded
from perennial.core.monitoring import (
    ArrivedLabels,
    Performance,
    WindowResult,
    event_for,
    join_labels,
    label_shortfall,
    latest_predictions,
    split_drift,
    window_estimates,
    window_performance,
)
from perennial.core.retraining import RetrainDecision
from perennial.core.windows import Window, batch_window, clock_or_data_window, label_start, latest_batch, window_bounds
from perennial.errors import DataSourceError

TODAY = dt.date(2013, 8, 14)  # a Wednesday


@pytest.mark.parametrize(
    ("kind", "start", "end", "expected"),
    [
        ("day", None, None, Window(dt.date(2013, 8, 13), dt.date(2013, 8, 14), "2013-08-13")),
        ("week", None, None, Window(dt.date(2013, 8, 5), dt.date(2013, 8, 12), "2013-08-05")),
        ("month", None, None, Window(dt.date(2013, 7, 1), dt.date(2013, 8, 1), "2013-07")),
        ("month", dt.date(2013, 12, 1), None, Window(dt.date(2013, 12, 1), dt.date(2014, 1, 1), "2013-12")),
        ("week", dt.date(2013, 7, 3), None, Window(dt.date(2013, 7, 3), dt.date(2013, 7, 10), "2013-07-03")),
        (
            "month",
            dt.date(2013, 7, 1),
            dt.date(2013, 7, 15),
            Window(dt.date(2013, 7, 1), dt.date(2013, 7, 15), "2013-07-01"),
        ),
    ],
)
def test_window_bounds(kind: str, start: dt.date | None, end: dt.date | None, expected: Window) -> None:
    assert window_bounds(kind, start, end, TODAY) == expected  # type: ignore[arg-type]
    # and the label gives the window's first day back (a retry on the newer windows learns from it)
    assert label_start(expected.label) == expected.start


def test_a_scoring_batch_label_has_no_first_day() -> None:
    assert label_start(batch_window(dt.datetime(2024, 5, 3, 10, 0, tzinfo=dt.UTC)).label) is None


def test_window_bounds_refuse_an_end_without_start_or_before_it() -> None:
    with pytest.raises(ValueError, match="needs window_start"):
        window_bounds("day", None, dt.date(2013, 7, 1), TODAY)
    with pytest.raises(ValueError, match="must be after its start"):
        window_bounds("day", dt.date(2013, 7, 2), dt.date(2013, 7, 1), TODAY)


def test_a_table_that_ends_before_the_clocks_window_is_monitored_on_its_own_last_full_window() -> None:
    today = dt.date(2026, 12, 4)
    # given data that runs to this week / when the default window is asked / then the clock's, unsaid
    assert clock_or_data_window("week", today, dt.date(2026, 12, 3)) == (
        window_bounds("week", None, None, today),
        "",
    )
    # given a table that ends on Friday 2021-12-31 / then its last full Monday-to-Sunday week, said
    window, note = clock_or_data_window("week", today, dt.date(2021, 12, 31))
    assert (window.start, window.end) == (dt.date(2021, 12, 20), dt.date(2021, 12, 27))
    assert "the data ends on 2021-12-31, before the last full week by the clock (2026-11-23)" in note
    # and by month and day the same: the last whole one the data reaches
    assert clock_or_data_window("month", today, dt.date(2013, 6, 30))[0].label == "2013-06"
    assert clock_or_data_window("day", today, dt.date(2013, 6, 30))[0].start == dt.date(2013, 6, 30)


def test_a_rescored_id_counts_once_with_its_latest_score() -> None:
    # given the same flight scored by batch, then again later
    rows = pd.DataFrame(
        {
            "id": ["a", "b", "a"],
            "prediction": [0.1, 0.5, 0.9],
            "scored_at": pd.to_datetime(["2013-07-01", "2013-07-01", "2013-07-02"], utc=True),
        }
    )
    # then the later scoring wins
    latest = latest_predictions(rows)
    assert dict(zip(latest["id"], latest["prediction"], strict=True)) == {"a": 0.9, "b": 0.5}


def test_labels_join_on_id_as_text_and_skip_unlabelled_rows(tiny_config: Config) -> None:
    predictions = pd.DataFrame({"id": ["1", "2", "3"], "prediction": [0.2, 0.7, 0.4]})
    labels = pd.DataFrame({"flight_id": [1, 2, 3, 4], "delayed": [0, 1, None, 1]})  # 3 not labelled yet
    joined = join_labels(predictions, labels, tiny_config, "labels.parquet")
    assert joined.to_dict("list") == {"id": ["1", "2"], "prediction": [0.2, 0.7], "label": [0.0, 1.0]}


def test_labels_without_the_target_name_the_source_and_column(tiny_config: Config) -> None:
    with pytest.raises(DataSourceError, match=r"labels\.csv: labels need columns \['delayed'\]"):
        join_labels(
            pd.DataFrame({"id": ["1"], "prediction": [0.5]}),
            pd.DataFrame({"flight_id": [1]}),
            tiny_config,
            "labels.csv",
        )


def test_new_rows_without_the_target_have_no_labels_yet_but_a_named_label_file_without_it_is_an_error(
    tiny_config: Config,
) -> None:
    # given new rows scored from their own file, which holds no target column (labels come later)
    predictions = pd.DataFrame({"id": ["1"], "prediction": [0.5]})
    rows = ArrivedLabels(pd.DataFrame({"flight_id": [1]}), "incoming.csv")
    # when they are joined, then no label has arrived: not an error
    assert rows.join(predictions, tiny_config).empty
    # when the config names a label file (monitoring.labels) and it lacks the target, then that is an error
    named = tiny_config.model_copy(
        update={
            "monitoring": tiny_config.monitoring.model_copy(
                update={"labels": tiny_config.data.source.model_copy(update={"path": "labels.csv"})}
            )
        }
    )
    with pytest.raises(DataSourceError, match=r"labels need columns \['delayed'\]"):
        rows.join(predictions, named)


def test_performance_has_an_interval_and_a_signed_drop_and_needs_enough_rows(tiny_config: Config) -> None:
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 400)
    joined = pd.DataFrame(
        {
            "id": [str(i) for i in range(400)],
            "prediction": np.clip(label * 0.3 + rng.uniform(0, 0.7, 400), 0, 1),
            "label": label,
        }
    )
    perf = window_performance(joined, tiny_config, reference=Estimate(0.95, float("nan"), float("nan")))
    assert perf is not None and perf.metric == "roc_auc" and perf.rows == 400
    assert perf.low <= perf.value <= perf.high and perf.drop == pytest.approx(0.95 - perf.value)
    assert (
        window_performance(joined.head(150), tiny_config, Estimate(0.95, 0.9, 1.0)) is None
    )  # below min_labelled_rows (200)


@pytest.mark.parametrize(
    ("rows", "labels", "expected"),
    [
        (0, [], "no labels"),
        (30, [0, 1], "too few labels (30 < 200)"),
        (199, [0, 1], "too few labels (199 < 200)"),
        (250, [1], "one class only in 250 labelled rows"),
        (200, [0, 1], None),
    ],
)
def test_a_window_short_of_labels_says_how_short_never_no_labels_when_some_came(
    tiny_config: Config, rows: int, labels: list[int], expected: str | None
) -> None:
    # given a window with `rows` labelled rows drawn from `labels`
    joined = pd.DataFrame(
        {
            "id": [str(i) for i in range(rows)],
            "prediction": np.linspace(0, 1, rows),
            "label": [labels[i % len(labels)] for i in range(rows)] if labels else [],
        }
    )
    # when its shortfall is read / then it names the counts (minimum 200), and judged windows have none
    assert label_shortfall(joined, tiny_config) == expected
    assert (window_performance(joined, tiny_config, Estimate(0.9, 0.85, 0.95)) is None) == (expected is not None)


def test_the_performance_line_says_why_there_is_no_figure() -> None:
    # given a window with 30 labelled rows, one with none measured (invalid data), and one measured
    short = _result(label_note="too few labels (30 < 200)")
    invalid = _result(data_valid=False)
    measured = _result(performance=Performance("roc_auc", 0.64, 0.62, 0.66, 900, 0.71, 0.07))
    # then each says what it has
    assert short.performance_line() == "too few labels (30 < 200)"
    assert invalid.performance_line() == "not measured: invalid data"
    assert measured.performance_line() == (
        "roc_auc 0.6400 [0.6200, 0.6600] on 900 labelled rows, champion's holdout 0.7100 (drop +0.0700)"
    )


def _result(**changes: object) -> WindowResult:
    base = dict(
        dataset="tiny",
        window="2013-07",
        rows=1000,
        data_valid=True,
        drift_share=0.6,
        drifted_columns=("temp", "dewp"),
        prediction_drift=True,
        performance=None,
        decision=RetrainDecision(True, "drift", "tiny:drift:2013-07", "drift in 2 of the last 3 windows"),
        champion_version="1",
    )
    return WindowResult(**{**base, **changes})  # type: ignore[arg-type]


WINDOW = Window(dt.date(2013, 7, 1), dt.date(2013, 8, 1), "2013-07")


def test_a_drift_retrain_is_a_typed_event_carrying_the_retrain_window() -> None:
    event = event_for(_result(), WINDOW, tolerance=0.03)
    assert isinstance(event, DriftDetected)
    assert (event.train_end, event.holdout_end, event.drifted_columns) == ("2013-07-01", "2013-08-01", ("temp", "dewp"))
    assert event.resource() == {"prefect.resource.id": "perennial.dataset.tiny", "perennial.window": "2013-07"}


def test_a_performance_retrain_carries_the_figures() -> None:
    perf = Performance("roc_auc", 0.64, 0.62, 0.66, 900, 0.71, 0.07)
    event = event_for(
        _result(performance=perf, decision=RetrainDecision(True, "performance", "k", "why")), WINDOW, 0.03
    )
    assert isinstance(event, PerformanceDegraded)
    assert (event.value, event.low, event.reference, event.tolerance) == (0.64, 0.62, 0.71, 0.03)


def test_a_persistent_episode_asks_a_person_with_its_own_event_not_a_retrain() -> None:
    # given an episode whose promoted retrain (v2) did not absorb the shift, and the policy held back
    episode = Episode("tiny", "2013-06", "2013-07", windows=2, retrains=1, retrain="2013-07-01", outcome="promoted")
    held = RetrainDecision(False, "drift", "k", "drift in 2 of 3; episode from 2013-06 had its retrain")
    # when the window asks for the alert / then the event names the episode, its retrain and why
    event = event_for(_result(decision=held, episode=replace(episode, version="2"), alert=True), WINDOW, 0.03)
    assert isinstance(event, DriftPersistent) and event.name == "perennial.drift.persistent"
    assert (event.episode_start, event.retrains, event.outcome, event.version) == ("2013-06", 1, "promoted", "2")
    assert event.summary == held.why
    # and without the alert the same window calls for no event
    assert event_for(_result(decision=held, episode=episode), WINDOW, 0.03) is None


def test_invalid_data_is_its_own_event_and_no_retrain_is_no_event() -> None:
    invalid = event_for(_result(data_valid=False), WINDOW, 0.03, "column 'carrier' ...")
    assert isinstance(invalid, DataInvalid) and "carrier" in invalid.summary
    assert event_for(_result(decision=RetrainDecision(False, None, None, "within policy")), WINDOW, 0.03) is None


def test_the_score_column_is_prediction_drift_not_a_feature() -> None:
    columns = (
        ColumnDrift("temp", "numeric", "wasserstein", 0.3, 0.1, True),
        ColumnDrift("carrier", "categorical", "jensenshannon", 0.01, 0.1, False),
        ColumnDrift("prediction", "numeric", "wasserstein", 0.2, 0.1, True),
    )
    report = DriftReport(columns, 2 / 3, 0.5, True, 1000, 500)
    assert split_drift(report) == (0.5, ("temp",), True)


def test_a_batch_window_is_one_scoring_named_by_its_time_and_has_no_dates_to_ask_for() -> None:
    # given a scoring stamped 2026-12-03 21:45:12 UTC (+01:00 as written)
    stamp = dt.datetime(2026, 12, 3, 22, 45, 12, 345678, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    # when it becomes a window, then it is named and bounded by its UTC time, and judged as of it
    window = batch_window(stamp)
    assert (window.label, window.start, window.end) == (
        "batch-20261203-214512",
        dt.date(2026, 12, 3),
        dt.date(2026, 12, 4),
    )
    assert window.end_time == stamp and window.batch == stamp
    # when a batch window is asked for by dates, then the error says what to do instead
    with pytest.raises(ValueError, match="monitor the latest"):
        window_bounds("batch", dt.date(2026, 12, 1), None, dt.date(2026, 12, 3))


def test_the_latest_batch_names_the_file_it_scored_and_a_file_finds_its_own_batch() -> None:
    # given three batches: the source at 09:00, new rows from a file at 10:00, then the source at 11:00
    at = [pd.Timestamp(f"2026-12-05 {h}:00", tz="UTC") for h in (9, 10, 11)]
    rows = pd.DataFrame({"run_id": ["a", "a", "b", "c"], "scored_at": [at[0], at[0], at[1], at[2]]})
    scored_from = {"b": "/data/incoming.csv"}
    # when the latest batch is asked for, then it is 11:00's, read from the config's source
    latest = latest_batch(rows, scored_from)
    assert latest is not None and (latest.batch, latest.scored_from) == (at[2], None)
    # when the latest batch of the file is asked for, then it is 10:00's, and it names the file
    own = latest_batch(rows, scored_from, "/data/incoming.csv")
    assert own is not None and (own.batch, own.scored_from, own.label) == (
        at[1],
        "/data/incoming.csv",
        "batch-20261205-100000",
    )
    # when the latest batch is the file's, then the window says so
    assert latest_batch(rows.iloc[:3], scored_from) == own
    # when a file was never scored, or nothing was, then there is no batch
    assert latest_batch(rows, scored_from, "/data/other.csv") is None
    assert latest_batch(rows.iloc[:0], scored_from) is None
    # when rows predate the run id (stored before it was kept), then the latest is still found
    assert latest_batch(rows.drop(columns="run_id"), {}) == batch_window(at[2].to_pydatetime())


def test_multiclass_labels_read_as_floats_are_judged_against_the_whole_number_classes(tiny_config: Config) -> None:
    # given a multiclass champion whose classes were 3, 5 and 7 (ints in training), and a label feed
    # read as floats because one row is not labelled yet (3.0, 5.0, 7.0, NaN)
    from tests.conftest import multiclass_config

    config = multiclass_config("grade")
    rng = np.random.default_rng(0)
    truth = rng.choice([3, 5, 7], 300)
    proba = np.full((300, 3), 0.1) + 0.8 * (truth[:, None] == np.array([3, 5, 7]))  # right 90% of the time
    predictions = pd.DataFrame({"id": [str(i) for i in range(300)], "prediction": proba.max(axis=1)})
    predictions[["proba__3", "proba__5", "proba__7"]] = proba
    labels = pd.DataFrame({"flight_id": range(301), "grade": [*truth.astype(float), np.nan]})
    # when the window's labels are joined and judged
    joined = join_labels(predictions, labels, config, "labels.csv")
    performance = window_performance(joined, config, reference=Estimate(1.0, 1.0, 1.0))
    # then every labelled row is judged (none is taken for an unknown class '3.0'), and all are right
    assert performance is not None and performance.rows == 300 and performance.value == pytest.approx(1.0)


def test_labels_of_a_class_the_model_never_learnt_count_as_its_misses() -> None:
    # given a multiclass champion of classes low/high, right on every row it knows, and a window whose
    # labels hold 80 'urgent' tickets among 400 (a class that did not exist at training)
    from tests.conftest import multiclass_config

    config = multiclass_config("priority")
    truth = np.array(["low", "high"] * 160 + ["urgent"] * 80)
    known = np.where(truth == "urgent", "high", truth)
    proba = np.column_stack([(known == "low") * 0.9 + 0.05, (known == "high") * 0.9 + 0.05])
    predictions = pd.DataFrame({"id": [str(i) for i in range(400)], "prediction": proba.max(axis=1)})
    predictions[["proba__low", "proba__high"]] = proba
    labels = pd.DataFrame({"flight_id": range(400), "priority": truth})
    joined = join_labels(predictions, labels, config, "labels.csv")
    # when the window is judged on accuracy
    accuracy = window_estimates(joined, config, ["accuracy"])
    # then every labelled row counts: the 80 'urgent' rows are misses (320 of 400 right, not 320 of 320)
    assert accuracy is not None and accuracy["accuracy"].value == pytest.approx(0.8)
    # and the known classes alone would have scored 1.0: the two sides differ
    assert window_estimates(joined[joined["label"] != "urgent"], config, ["accuracy"])["accuracy"].value == 1.0  # type: ignore[index]


def test_a_window_scored_by_two_versions_with_different_classes_is_judged_on_every_row() -> None:
    # given a canary window: half its rows scored by a champion of classes low/high (no 'urgent'
    # column: empty in the store), half by a challenger that learnt 'urgent'; every row right
    from tests.conftest import multiclass_config

    config = multiclass_config("priority")
    truth = np.array(["low", "high"] * 100 + ["urgent", "high"] * 100)
    onehot = (truth[:, None] == np.array(["low", "high", "urgent"])) * 0.9 + 0.05
    predictions = pd.DataFrame({"id": [str(i) for i in range(400)], "prediction": onehot.max(axis=1)})
    predictions[["proba__low", "proba__high", "proba__urgent"]] = onehot
    predictions.loc[:199, "proba__urgent"] = np.nan  # the champion's rows
    labels = pd.DataFrame({"flight_id": range(400), "priority": truth})
    joined = join_labels(predictions, labels, config, "labels.csv")
    # when the window is judged
    accuracy = window_estimates(joined, config, ["accuracy", "log_loss"])
    # then every row counts with a finite loss (the champion gave 'urgent' probability 0)
    assert accuracy is not None and accuracy["accuracy"].value == pytest.approx(1.0)
    assert np.isfinite(accuracy["log_loss"].value)


def test_a_drop_counts_only_beyond_the_champions_holdout_interval_not_its_lucky_point() -> None:
    # given a champion whose 414-row holdout came out lucky: AUC 0.853 [0.814, 0.883], and fresh rows of
    # the very same process at 0.792 [0.755, 0.836] (own-data probe d9)
    window = Performance("roc_auc", 0.7921, 0.7547, 0.8360, 400, 0.853, 0.853 - 0.7921, 0.814)
    # when the least drop the two allow is read / then none: the window reaches the holdout's interval
    assert window.sure_drop == pytest.approx(0.814 - 0.836)
    assert window.sure_drop < 0
    # and a run that kept no interval judges against the point figure, as before (a drop "confirmed")
    assert replace(window, reference_bound=None).sure_drop == pytest.approx(0.853 - 0.836)
    # and a real fall clears both intervals
    fallen = Performance("roc_auc", 0.70, 0.66, 0.74, 400, 0.853, 0.153, 0.814)
    assert fallen.sure_drop == pytest.approx(0.074)
    # and for a loss the champion's interval end nearer a worse window is its high end
    mae = Performance("mae", 36.9, 33.9, 39.5, 350, 31.8, 5.1, 33.0)
    assert mae.sure_drop == pytest.approx(33.9 - 33.0)


def test_window_performance_takes_the_champions_interval_from_its_holdout_estimate(tiny_config: Config) -> None:
    # given 400 labelled rows and a champion figure with an interval, and one without (NaN ends)
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, 400)
    joined = pd.DataFrame(
        {"id": [str(i) for i in range(400)], "prediction": label * 0.2 + rng.uniform(0, 0.8, 400), "label": label}
    )
    # when measured against each
    with_interval = window_performance(joined, tiny_config, Estimate(0.95, 0.93, 0.97))
    exact = window_performance(joined, tiny_config, Estimate(0.95, float("nan"), float("nan")))
    # then the bound is the holdout's low end (AUC: higher is better), or None when it was not kept
    assert with_interval is not None and with_interval.reference_bound == 0.93 and with_interval.reference == 0.95
    assert exact is not None and exact.reference_bound is None
    assert with_interval.sure_drop == pytest.approx(exact.sure_drop - 0.02)  # type: ignore[operator]
