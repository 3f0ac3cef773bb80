from __future__ import annotations

from pathlib import Path

from perennial.config import Config
from perennial.config_reference import render

PAGE = Path(__file__).parents[2] / "docs" / "config-reference.md"


def test_the_committed_config_reference_is_the_generated_one() -> None:
    # given the page in docs/ / when the models are rendered again / then nothing differs
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/config-reference.md is stale: .venv/bin/python -m perennial.config_reference > docs/config-reference.md"
    )


def test_every_top_level_key_and_the_target_keys_are_documented() -> None:
    page = render()
    for key in Config.model_fields:
        assert f"| `{key}` |" in page, key
    assert "| `positive_label` |" in page and "| `holdout_share` |" in page
    # and a page from other models differs (the check can fail)
    assert render().replace("holdout_share", "holdout") != page


def test_every_key_has_a_meaning() -> None:
    undocumented = [
        line.split("|")[1].strip() for line in render().splitlines() if line.startswith("| `") and line.endswith("|  |")
    ]
    assert not undocumented, f"keys without a meaning (add a Field description): {undocumented}"
