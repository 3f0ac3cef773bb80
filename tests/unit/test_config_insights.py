"""The optional insight settings: cost matrix, cost gate, top-loss rows, importance, decay share."""

from __future__ import annotations

import pytest

from perennial.config import parse_config
from perennial.errors import ConfigError
from tests.conftest import config_dict


def test_existing_configs_stay_valid_with_insights_off() -> None:
    # given a config without any of the new keys / when it is parsed
    config = parse_config(config_dict())
    # then cost is off, the cost gate is off, and the other settings have defaults
    assert config.evaluation.cost is None and config.gate.max_expected_cost is None
    assert config.evaluation.top_loss_rows == 50 and config.evaluation.importance.repeats == 3
    assert config.monitoring.max_importance_drop == 0.5


def test_a_cost_matrix_and_a_cost_gate_parse() -> None:
    # given a cost matrix and a gate on expected cost
    raw = config_dict()
    raw["evaluation"]["cost"] = {"false_positive": 20, "false_negative": 100, "unit": "USD"}
    raw["gate"]["max_expected_cost"] = 15.0
    # when parsed / then both are kept
    config = parse_config(raw)
    assert config.evaluation.cost.false_negative == 100 and config.gate.max_expected_cost == 15.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["gate"].update(max_expected_cost=1.0), "gate.max_expected_cost needs evaluation.cost"),
        (lambda r: r["evaluation"].update(cost={}), "non-zero false_positive"),
        (lambda r: r["evaluation"].update(cost={"false_positive": -1}), "evaluation.cost.false_positive"),
        (lambda r: r["evaluation"].update(cost={"false_positive": 1, "typo": 2}), "evaluation.cost.typo"),
    ],
    ids=["gate-without-costs", "all-zero", "negative", "unknown-key"],
)
def test_bad_cost_settings_name_the_key(change, message: str) -> None:
    # given a config with a bad cost setting
    raw = config_dict()
    change(raw)
    # when parsed / then the error names the key and the rule
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "tiny.yaml")
