from __future__ import annotations

import math
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from perennial.config import Config
from perennial.core.names import RELEASE_DECISIONS, release_action
from perennial.core.release import (
    Action,
    ReleasePolicy,
    compare_paired,
    compare_unpaired,
    confidence_sequence,
    decide_release,
    hold_on_invalid_data,
    row_losses,
    same_days,
    standardised_difference,
)
from perennial.core.release_rows import compare_outcomes, variant_rows

POLICY = ReleasePolicy("auto", alpha=0.05, horizon_rows=2000, min_labelled_rows=200, rows_per_class=20, margin=0.0)


def _binary(n: int, skill: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose quality grows with ``skill`` (0: noise)."""
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 + skill * (y - 0.5) + rng.normal(0, 0.2, n), 0.01, 0.99)
    return y, p


def test_row_losses_per_task() -> None:
    # given one labelled row per task with a known loss
    binary = pd.DataFrame({"prediction": [0.8, 0.3], "label": [1, 1]})
    regression = pd.DataFrame({"prediction": [10.0, 4.0], "label": [12.0, 4.0]})
    multiclass = pd.DataFrame({"proba__a": [0.7, 0.2], "proba__b": [0.3, 0.8], "label": ["a", "a"]})
    # then Brier, absolute error and the multiclass Brier over every class
    assert row_losses(binary, "binary") == pytest.approx([0.04, 0.49])
    assert row_losses(regression, "regression") == pytest.approx([2.0, 0.0])
    assert row_losses(multiclass, "multiclass") == pytest.approx([0.18, 1.28])
    # and a label of a class the model never learnt adds its own column's (0 - 1)^2: 0.49 + 0.09 + 1
    unlearnt = multiclass.assign(label=["c", "a"])
    assert row_losses(unlearnt, "multiclass") == pytest.approx([1.58, 1.28])
    # and a stored column a version never had (empty on its rows) is its probability 0, not a lost row
    canary = multiclass.assign(proba__c=[np.nan, 0.0], label=["c", "a"])
    assert row_losses(canary, "multiclass") == pytest.approx([1.58, 1.28])


def test_the_sequence_is_wider_than_one_look_and_shrinks_with_rows() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 1.0, 8000)
    at_horizon = confidence_sequence(values[:2000], 0.05, 2000)
    later = confidence_sequence(values, 0.05, 2000)
    one_look = 1.96 * values[:2000].std(ddof=1) / math.sqrt(2000)
    # then it pays for looking often (wider than a fixed-horizon interval), and narrows as rows come
    assert (at_horizon.high - at_horizon.low) / 2 > 1.3 * one_look
    assert later.high - later.low < at_horizon.high - at_horizon.low
    assert confidence_sequence(values[:1], 0.05, 2000).low == -math.inf


def test_looking_every_window_keeps_false_decisions_within_alpha() -> None:
    # given 300 A/A releases (the champion against itself), looked at every 100 labelled rows up to 3,000
    rng = np.random.default_rng(7)
    wrong = naive = 0
    for _ in range(300):
        y, p = _binary(3000, 0.4, rng)
        # two scorings of one model: each a little noisy, the same on average
        a, b = ((np.clip(p + rng.normal(0, 0.05, 3000), 0.01, 0.99) - y) ** 2 for _ in range(2))
        d = a - b
        looks = [confidence_sequence(d[:n], 0.05, 2000) for n in range(100, 3001, 100)]
        wrong += any(c.low > 0 or c.high < 0 for c in looks)
        one_look = [(d[:n].mean(), 1.96 * d[:n].std(ddof=1) / math.sqrt(n)) for n in range(100, 3001, 100)]
        naive += any(abs(m) > r for m, r in one_look)
    # then a decision is taken on at most alpha of them although each was looked at 30 times,
    # where a one-look 95% interval checked as often decides on far more
    assert wrong / 300 <= 0.05
    assert naive / 300 > 0.15


def test_a_worse_challenger_is_pulled_a_better_one_promoted_an_equal_one_waits() -> None:
    rng = np.random.default_rng(1)
    y, good = _binary(1500, 0.6, rng)
    _, weak = _binary(1500, 0.1, rng)
    loss_good, loss_weak = (good - y) ** 2, (weak - y) ** 2
    pulled = decide_release(compare_paired(loss_good, loss_weak, y, "binary", POLICY), "2", POLICY)
    promoted = decide_release(compare_paired(loss_weak, loss_good, y, "binary", POLICY), "2", POLICY)
    equal = decide_release(
        compare_paired(loss_good, loss_good + 1e-9 * rng.normal(size=1500), y, "binary", POLICY), "2", POLICY
    )
    assert pulled.action == "pull" and "worse on outcomes" in pulled.why
    assert promoted.action == "promote" and "better on outcomes" in promoted.why
    assert equal.action == "wait" and equal.why.startswith("inconclusive, kept the champion")


def test_a_window_whose_data_broke_its_contract_can_pull_but_not_promote_or_grow_a_canary() -> None:
    # given the decisions outcomes would make: pull a worse challenger, promote a better one, grow a canary
    rng = np.random.default_rng(1)
    y, good = _binary(1500, 0.6, rng)
    _, weak = _binary(1500, 0.1, rng)
    pulled = decide_release(compare_paired((good - y) ** 2, (weak - y) ** 2, y, "binary", POLICY), "2", POLICY)
    promoted = decide_release(compare_paired((weak - y) ** 2, (good - y) ** 2, y, "binary", POLICY), "2", POLICY)
    rng = np.random.default_rng(3)
    y_a, p_a = _binary(2000, 0.5, rng)
    y_b, p_b = _binary(250, 0.5, rng)
    canary = compare_unpaired((p_a - y_a) ** 2, (p_b - y_b) ** 2, y_a, y_b, "binary", POLICY, imbalance=0.02)
    advanced = decide_release(canary, "4", POLICY, canary_step=0)
    assert (pulled.action, promoted.action, advanced.action) == ("pull", "promote", "advance")
    broken = "flights.parquet: 1 of 12 checks failed: `distance` below 0"
    # when the window they were judged in failed validation
    held = {d.action: hold_on_invalid_data(d, broken) for d in (pulled, promoted, advanced)}
    # then the pull stands (back to the champion is the safe side); the promotion and the ramp wait, saying why
    assert held["pull"] == pulled
    assert held["promote"].action == held["advance"].action == "wait"
    assert held["promote"].why.startswith(f"the window's data broke its contract ({broken}): not promoted on it")
    assert "the canary not grown on it" in held["advance"].why and "no harm seen at step 1" in held["advance"].why
    assert held["promote"].comparison is promoted.comparison
    # and a valid window changes nothing
    assert hold_on_invalid_data(promoted, None) == promoted


def test_thin_evidence_waits_and_says_which_number_is_short() -> None:
    rng = np.random.default_rng(2)
    y, p = _binary(150, 0.6, rng)
    single = np.zeros(400, dtype=int)
    few = decide_release(compare_paired((p - y) ** 2, (0.5 - y) ** 2.0, y, "binary", POLICY), "3", POLICY)
    one_class = decide_release(
        compare_paired(np.full(400, 0.01), np.full(400, 0.5), single, "binary", POLICY), "3", POLICY
    )
    none = decide_release(None, "3", POLICY)
    # then the challenger is much worse, yet nothing is decided on 150 rows or on one class
    assert few.action == "wait" and "150 labelled shadow rows < 200" in few.why
    assert one_class.action == "wait" and "single-class" in one_class.why
    assert none.action == "wait" and "no labelled outcomes" in none.why


def test_a_canary_grows_only_when_its_step_brought_enough_labels_and_no_harm() -> None:
    rng = np.random.default_rng(3)
    y_a, p_a = _binary(2000, 0.5, rng)
    y_b, p_b = _binary(250, 0.5, rng)
    comparison = compare_unpaired((p_a - y_a) ** 2, (p_b - y_b) ** 2, y_a, y_b, "binary", POLICY, imbalance=0.02)
    first = decide_release(comparison, "4", POLICY, canary_step=0)
    second = decide_release(comparison, "4", POLICY, canary_step=1)  # step 2 needs 400 labelled canary rows
    assert first.action == "advance" and "no harm seen at step 1" in first.why
    assert second.action == "wait"


def test_a_canary_worse_so_far_but_not_yet_confidently_stays_at_its_step() -> None:
    # given a canary a little worse than the champion, on too few rows to be sure of it
    rng = np.random.default_rng(8)
    y_a, p_a = _binary(2000, 0.5, rng)
    y_b, p_b = _binary(250, 0.42, rng)
    comparison = compare_unpaired((p_a - y_a) ** 2, (p_b - y_b) ** 2, y_a, y_b, "binary", POLICY, imbalance=0.02)
    assert comparison.improvement.low < comparison.improvement.mean < 0 < comparison.improvement.high
    # when it could take its next step
    decision = decide_release(comparison, "4", POLICY, canary_step=0)
    # then it waits where it is, and says why
    assert decision.action == "wait" and "does worse so far, it stays at step 1" in decision.why


def test_an_unbalanced_canary_split_decides_nothing() -> None:
    rng = np.random.default_rng(4)
    y, p = _binary(2000, 0.1, rng)
    y2, p2 = _binary(2000, 0.7, rng)
    balanced = compare_unpaired((p - y) ** 2, (p2 - y2) ** 2, y, y2, "binary", POLICY, imbalance=0.05)
    skewed = compare_unpaired((p - y) ** 2, (p2 - y2) ** 2, y, y2, "binary", POLICY, imbalance=0.6)
    assert decide_release(balanced, "5", POLICY).action == "promote"
    assert "unbalanced" in decide_release(skewed, "5", POLICY).why


def test_standardised_difference_sees_a_shifted_group() -> None:
    rng = np.random.default_rng(5)
    a = pd.DataFrame({"x": rng.normal(0, 1, 500), "c": ["u"] * 500})
    same = pd.DataFrame({"x": rng.normal(0, 1, 500), "c": ["u"] * 500})
    shifted = pd.DataFrame({"x": rng.normal(1, 1, 500), "c": ["u"] * 500})
    assert standardised_difference(a, same) < 0.2
    assert standardised_difference(a, shifted) > 0.8


def _rows(ids: list[str], version: str, minutes: list[int]) -> pd.DataFrame:
    at = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "id": ids,
            "model_version": version,
            "scored_at": [at + pd.Timedelta(minutes=m) for m in minutes],
            "event_time": at,
            "prediction": 0.5,
        }
    )


def test_shadow_pairs_the_champions_answers_to_the_same_requests() -> None:
    service = _rows(["a", "b", "c"], "1", [0, 1, 2])
    shadow = _rows(["b", "c", "d"], "2", [1, 2, 3])
    own, theirs = variant_rows(service, shadow, "shadow", "1", "2")
    assert sorted(own["id"]) == ["b", "c"] and sorted(theirs["id"]) == ["b", "c", "d"]


def test_a_canary_is_compared_with_other_ids_served_since_it_began() -> None:
    # given champion answers before and after the canary's first, and an id both answered
    service = pd.concat(
        [_rows(["old", "x", "y"], "1", [0, 10, 11]), _rows(["x2", "x"], "2", [5, 12])], ignore_index=True
    )
    own, theirs = variant_rows(service, service.iloc[:0], "canary", "1", "2")
    # then the champion's rows start at the canary's first and leave out ids the canary served
    assert sorted(own["id"]) == ["y"] and sorted(theirs["id"]) == ["x", "x2"]


def test_same_days_weighs_the_champion_to_the_canarys_mix_of_days() -> None:
    # given a canary that answered 1 row on day a and 3 on day b; day c had no canary, day d no champion
    champion = np.array(["a", "a", "b", "c"])
    canary = np.array(["a", "b", "b", "b", "d"])
    weights, kept = same_days(champion, canary)
    # then each champion row stands for its day's canary rows, and day d's canary row is left out
    assert weights.tolist() == [0.5, 0.5, 3.0, 0.0]
    assert kept.tolist() == [True, True, True, True, False]


def test_a_canary_that_grew_into_an_easier_season_is_not_credited_with_it(tiny_config: Config) -> None:
    # given one model as both variants, on two seasons: a hard one (45% delayed) and an easy one (5%)
    rng = np.random.default_rng(6)
    frames = []
    for day, rate, canary_share, temp in (("2013-07-01", 0.45, 0.05, 80.0), ("2013-09-01", 0.05, 0.5, 55.0)):
        label = (rng.uniform(size=6000) < rate).astype(int)
        frames.append(
            pd.DataFrame(
                {
                    "id": [f"{day}-{i}" for i in range(6000)],
                    "event_time": pd.Timestamp(day, tz="UTC"),
                    "prediction": np.full(6000, rate),
                    "label": label,
                    "canary": rng.uniform(size=6000) < canary_share,  # the ramp grew between the seasons
                    "temp": rng.normal(temp, 10, 6000),  # a feature that moves with the season
                }
            )
        )
    rows = pd.concat(frames, ignore_index=True)
    champion, canary = rows.loc[~rows["canary"]], rows.loc[rows["canary"]]
    # when compared with the rows weighed by day, and without
    weighed = compare_outcomes("canary", champion, canary, champion, canary, tiny_config, POLICY)
    flat = compare_unpaired(
        row_losses(champion, "binary"),
        row_losses(canary, "binary"),
        champion["label"].to_numpy(),
        canary["label"].to_numpy(),
        "binary",
        POLICY,
    )
    # then the unweighted comparison credits the canary with the easy season; by day, it is a tie
    assert decide_release(flat, "2", POLICY).action == "promote"
    assert decide_release(weighed, "2", POLICY).action == "wait"
    assert weighed.improvement.low < 0 < weighed.improvement.high
    # and the split's balance is judged day by day too: over the whole season it looks skewed
    assert standardised_difference(champion[["temp"]], canary[["temp"]]) > 0.5
    assert weighed.imbalance is not None and weighed.imbalance < 0.1


def test_the_decisions_the_ledger_names_are_the_ones_the_rule_takes() -> None:
    assert get_args(Action) == RELEASE_DECISIONS
    assert release_action("pull") == "release pull" != release_action("shadow")
