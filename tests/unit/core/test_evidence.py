from __future__ import annotations

import numpy as np
import pytest

from perennial.config import MinEvidence
from perennial.core.evaluation import MetricEstimate
from perennial.core.evidence import Evidence, Verdict, non_inferior, shortfall, superior

MINIMUM = MinEvidence(holdout_rows=500, rows_per_class=20, max_interval_width=0.1)


def test_counts_every_expected_class_even_when_absent() -> None:
    # given 31 labels, 2 of them positive, and 10 labels with no positive at all
    labels = np.array([1, 1] + [0] * 29)
    # when counted
    evidence = Evidence.of_labels(labels)
    only_negatives = Evidence.of_labels(np.zeros(10, dtype=int))
    # then both classes are named, a missing one with 0
    assert evidence == Evidence(31, (("negatives", 29), ("positives", 2)))
    assert only_negatives.classes == (("negatives", 10), ("positives", 0))


def test_shortfall_names_every_short_number() -> None:
    # given 31 holdout rows with 2 positives
    evidence = Evidence(31, (("negatives", 29), ("positives", 2)))
    # when judged against 500 rows and 20 of each class
    reasons = shortfall(evidence, MINIMUM)
    # then each short number is said with its minimum
    assert reasons == ("31 holdout rows < 500", "2 positives < 20")


def test_enough_evidence_has_no_shortfall() -> None:
    evidence = Evidence(28_000, (("negatives", 22_000), ("positives", 6_000)))
    narrow = MetricEstimate("roc_auc_diff", 0.01, 0.005, 0.015)
    assert shortfall(evidence, MINIMUM, narrow) == ()


def test_a_single_class_holdout_is_said_by_name() -> None:
    # given 600 rows that are all negatives
    evidence = Evidence(600, (("negatives", 600), ("positives", 0)))
    # when judged
    reasons = shortfall(evidence, MINIMUM)
    # then the reason is the single class, not "0 positives < 20" or "roc_auc 0.5"
    assert reasons == ("single-class holdout: only negatives (600 rows)",)


def test_a_wide_or_undefined_interval_is_short_evidence() -> None:
    evidence = Evidence(5000, (("negatives", 4000), ("positives", 1000)))
    wide = MetricEstimate("roc_auc_diff", 0.0, -0.08, 0.07)
    undefined = MetricEstimate("roc_auc", float("nan"), float("nan"), float("nan"))
    assert shortfall(evidence, MINIMUM, wide) == ("roc_auc_diff interval width 0.150 > 0.1",)
    assert shortfall(evidence, MINIMUM, undefined) == ("roc_auc has no interval (undefined on these rows)",)
    # and without a width limit the interval is not judged
    assert shortfall(evidence, MINIMUM.model_copy(update={"max_interval_width": None}), wide) == ()


def test_a_regression_target_has_no_class_rule() -> None:
    assert shortfall(Evidence(40, ()), MINIMUM) == ("40 holdout rows < 500",)


@pytest.mark.parametrize(
    ("diff", "higher", "verdict"),
    [
        (MetricEstimate("roc_auc_diff", 0.0, -0.009, 0.01), True, Verdict.PASSED),
        (MetricEstimate("roc_auc_diff", 0.0, -0.011, 0.01), True, Verdict.FAILED),
        # a loss: the difference up to +0.009 is at worst 0.009 worse
        (MetricEstimate("log_loss_diff", 0.0, -0.01, 0.009), False, Verdict.PASSED),
        (MetricEstimate("log_loss_diff", 0.0, -0.01, 0.011), False, Verdict.FAILED),
        (MetricEstimate("roc_auc_diff", float("nan"), float("nan"), float("nan")), True, Verdict.FAILED),
    ],
)
def test_non_inferior_reads_the_worst_plausible_improvement(
    diff: MetricEstimate, higher: bool, verdict: Verdict
) -> None:
    assert non_inferior(diff, 0.01, higher) is verdict


def test_superior_needs_the_lower_bound_above_the_gain() -> None:
    better = MetricEstimate("roc_auc_diff", 0.02, 0.004, 0.036)
    level = MetricEstimate("roc_auc_diff", 0.01, -0.004, 0.024)
    assert superior(better, 0.0, True) is Verdict.PASSED
    assert superior(level, 0.0, True) is Verdict.FAILED
    assert superior(better, 0.005, True) is Verdict.FAILED


def test_the_interval_width_is_judged_only_on_metrics_of_a_unit_scale() -> None:
    # given 5,000 rows and an MAE interval 3 minutes wide (an error in minutes, not a share)
    evidence = Evidence(5000, ())
    mae = MetricEstimate("mae_diff", 0.5, -1.0, 2.0)
    auc = MetricEstimate("roc_auc_diff", 0.0, -0.08, 0.07)
    # then only the AUC's width counts against the evidence
    assert shortfall(evidence, MINIMUM, mae) == ()
    assert shortfall(evidence, MINIMUM, auc) == ("roc_auc_diff interval width 0.150 > 0.1",)


def test_no_class_minimum_leaves_a_class_the_holdout_did_not_draw_unjudged_not_inconclusive() -> None:
    # given a multiclass holdout of 600 rows that drew no row of the rare class '9'
    evidence = Evidence.of_labels(np.array(["5"] * 300 + ["6"] * 300), all_classes=("5", "6", "9"))
    # then with a class minimum it is short, and with none (init's 0 for classes too rare to judge) it is not
    assert shortfall(evidence, MINIMUM) == ("0 class '9' rows < 20",)
    assert shortfall(evidence, MinEvidence(holdout_rows=500, rows_per_class=0, max_interval_width=0.1)) == ()
