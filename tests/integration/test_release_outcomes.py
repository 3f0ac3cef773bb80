"""Releases decided on real outcomes: the running service answers a window of requests in shadow or
canary, its prediction log lands in the store, delayed labels come from the data source, and the
monitoring flow judges the challenger against the champion (release.decide: auto).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.cli import app
from perennial.config import load_config
from perennial.io.ledger import Ledger, LedgerEntry
from perennial.io.registry import Registry
from perennial.serving.app import create_app
from perennial.settings import load_settings
from tests.conftest import make_flights

APRIL = {"window_start": dt.date(2013, 4, 1), "window_end": dt.date(2013, 5, 1)}
WEAK = {
    "data.features": {"numeric": ["distance"]},
    "validation.ranges": {"distance": [0, 6000]},
    "training.candidates": [{"name": "weak", "family": "logistic_regression"}],
    "evaluation.slices": [],
}
AUTO = {"release": {"decide": "auto", "min_labelled_rows": 150}, "monitoring": {"min_labelled_rows": 100}}


def _serve_april(project: Any, config_path: str) -> int:
    """Every April flight asked of the running service; returns how many."""
    frame = pd.read_parquet(project.data)
    april = frame.loc[frame["time_hour"] >= pd.Timestamp("2013-04-01", tz="UTC")].drop(columns=["delayed"])
    sent = json.loads(april.assign(time_hour=april["time_hour"].map(pd.Timestamp.isoformat)).to_json(orient="records"))
    settings = load_settings()
    with TestClient(create_app(load_config(settings.root / config_path), settings)) as client:
        for start in range(0, len(sent), 250):  # batches: the canary still chooses per id
            assert client.post("/predict", json={"records": sent[start : start + 250]}).status_code == 200
        deadline = time.monotonic() + 20  # the shadow scores after each answer: let it catch up
        while (shadow := client.get("/metadata").json()["shadow"]) and shadow["rows"] < len(sent):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    return len(sent)  # leaving the client stops the service: its prediction log is flushed


def _ledger(model: str) -> list[LedgerEntry]:
    ledger = Ledger(load_settings().ledger_url)
    try:
        return list(ledger.history(model, alias="challenger"))
    finally:
        ledger.close()


def _ledger_actions(model: str) -> list[tuple[str, str]]:
    return [(e.action, e.version) for e in _ledger(model)]


def test_a_worse_challenger_in_shadow_is_pulled_on_its_outcomes(project: Any) -> None:
    # given the tiny model as champion, and a model that sees distance alone as challenger (dry-run, manual)
    auto = {**AUTO, "serving": {"mode": "shadow"}}
    config = project.write_config("auto.yaml", **auto)
    weak = project.write_config("weak.yaml", **WEAK, **auto, **{"gate.mode": "dry-run", "gate.promotion": "manual"})
    assert training_flow(config).promoted
    assert not training_flow(weak).promoted
    registry = Registry("tiny-delay")
    assert (registry.alias_version("champion"), registry.alias_version("challenger")) == ("1", "2")
    # and April's flights answered by the running service, the challenger scoring each in shadow
    served = _serve_april(project, config)
    # when April is monitored
    result = monitoring_flow(config, **APRIL)
    # then the challenger was judged paired on the labelled requests, found worse, and pulled
    decided = result["release"]
    assert decided["mode"] == "shadow" and decided["action"] == "pull", decided["why"]
    comparison = decided["comparison"]
    assert comparison["challenger"]["rows"] == comparison["champion"]["rows"] > 150
    assert comparison["challenger"]["rows"] <= served
    assert comparison["improvement"]["high"] < 0 < comparison["champion"]["mean"] < comparison["challenger"]["mean"]
    assert registry.release_mode() == "champion" and registry.alias_version("champion") == "1"
    assert _ledger_actions("tiny-delay")[0] == ("release pull", "2")
    # and the window's table shows both variants with their labelled rows
    variants = {v["variant"]: v for v in decided["variants"]}
    assert variants["champion"]["version"] == "1" and variants["shadow"]["version"] == "2"
    assert variants["shadow"]["labelled"] > 150 and variants["shadow"]["performance"]["metric"] == "roc_auc"
    # with the secondary metrics, each with its interval
    secondary = {m["metric"]: m for m in variants["shadow"]["secondary"]}
    assert set(secondary) == {"average_precision", "log_loss", "brier"}
    assert all(m["low"] <= m["value"] <= m["high"] for m in secondary.values())
    # and perennial status says what was decided and why
    status = CliRunner().invoke(app, ["status", "--config", config], env={"COLUMNS": "300"})
    assert status.exit_code == 0, status.output
    line = next(x for x in status.output.splitlines() if x.startswith("release decision"))
    assert line.startswith("release decision on v2") and "release pull" in line and "improvement" in line
    # and a second look finds no release to judge: the pulled challenger is not judged again
    assert monitoring_flow(config, **APRIL)["release"] is None


def test_a_better_challenger_in_canary_is_promoted_through_the_gate(project: Any) -> None:
    # given four times the flights (an unpaired comparison needs more outcomes than a paired one)
    make_flights(rows=16_000, days=120).to_parquet(project.data, index=False)
    # and the weak model as champion (gate off) and the full model as challenger (manual)
    auto = {**AUTO, "serving": {"mode": "canary", "canary": {"ramp": [0.5, 1.0], "step_requests": 100_000}}}
    weak = project.write_config("weak.yaml", **WEAK, **auto, **{"gate.mode": "off"})
    config = project.write_config(
        "auto.yaml", **auto, **{"gate.promotion": "manual", "gate.min_evidence": {"holdout_rows": 100}}
    )
    assert training_flow(weak).promoted
    assert not training_flow(config).promoted
    registry = Registry("tiny-delay")
    assert (registry.alias_version("champion"), registry.alias_version("challenger")) == ("1", "2")
    # and April answered half by the canary (its first step: outcomes allow no more yet)
    _serve_april(project, config)
    # when April is monitored while its data breaks the champion's contract (negative distances)
    clean = pd.read_parquet(project.data)
    april = clean["time_hour"] >= pd.Timestamp("2013-04-01", tz="UTC")
    clean.assign(distance=clean["distance"].where(~april, -5.0)).to_parquet(project.data, index=False)
    broken = monitoring_flow(config, **APRIL, return_state=True)
    # then the window fails, and the outcomes that favour the canary promote nothing on it: the
    # ledger says the release waits, and why
    assert broken.is_failed()
    assert registry.alias_version("champion") == "1" and registry.alias_version("challenger") == "2"
    waited = _ledger("tiny-delay")[0]
    assert (waited.action, waited.version) == ("release wait", "2")
    assert "the window's data broke its contract" in waited.reason and "not promoted on it" in waited.reason
    # when April is monitored on its clean data
    clean.to_parquet(project.data, index=False)
    result = monitoring_flow(config, **APRIL)
    # then the canary was judged unpaired against the champion's other ids, found better, and
    # promoted through the promotion flow's gate
    decided = result["release"]
    assert decided["mode"] == "canary", decided
    assert decided["action"] == "promote", decided["why"]
    assert decided["outcome"] == "promoted v2 through the gate"
    assert decided["comparison"]["improvement"]["low"] > 0
    assert registry.alias_version("champion") == "2"
    assert _ledger_actions("tiny-delay")[0] == ("release promote", "2")
