"""Shadow and canary modes on real models: who answers, what is logged, how the ramp behaves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perennial.io.prediction_store import open_store
from perennial.io.registry import release
from perennial.serving.app import create_app
from perennial.serving.routing import to_challenger
from tests.serving.conftest import ServingEnv, records


@contextmanager
def serving(env: ServingEnv, **serving_options: Any) -> Iterator[TestClient]:
    env.move("challenger", "2")
    with TestClient(create_app(env.config(**serving_options), env.settings)) as client:
        yield client


def test_shadow_scores_every_request_logs_it_and_never_returns_it(serving_env: ServingEnv) -> None:
    # given v1 champion and v2 challenger in shadow mode
    sent = records(30)
    with serving(serving_env, mode="shadow") as client:
        # when requests and batches are scored
        answers = [client.post("/predict", json=r).json() for r in sent[:10]]
        answers += client.post("/predict", json={"records": sent[10:]}).json()["predictions"]
        # (the shadow scores after the answers are sent: wait for it)
        deadline = time.monotonic() + 10
        while (meta := client.get("/metadata").json())["shadow"]["rows"] < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        metrics = client.get("/metrics").text
    # then every answer came from the champion
    assert {a["model_version"] for a in answers} == {"1"} and {a["variant"] for a in answers} == {"champion"}
    # and the comparison covers every row: agreement, both distributions, both latencies
    shadow = meta["shadow"]
    assert (shadow["champion_version"], shadow["challenger_version"], shadow["rows"]) == ("1", "2", 30)
    assert 0 <= shadow["agreement"] <= 1 and shadow["challenger"]["count"] == 30
    assert shadow["champion_latency"]["calls"] >= 2 and shadow["challenger_latency"]["p50_ms"] > 0
    assert "perennial_shadow_agreement" in metrics and meta["challenger"]["version"] == "2"
    # and the store holds both: what was served, and what the challenger would have said
    store = open_store(serving_env.config(), serving_env.settings.root)
    served, shadowed = store.read("service"), store.read("shadow")
    assert sorted(served["id"]) == sorted(shadowed["id"]) == sorted(r["flight_id"] for r in sent)
    assert set(served["model_version"]) == {"1"} and set(shadowed["model_version"]) == {"2"}
    by_id = served.set_index("id")["prediction"]
    assert all(by_id[a["id"]] == pytest.approx(a["prediction"]) for a in answers)


def test_canary_routes_a_sticky_share_by_id_to_the_challenger(serving_env: ServingEnv) -> None:
    sent = records(200)
    with serving(
        serving_env, mode="canary", canary={"ramp": [0.3], "step_requests": 10_000, "max_p99_ms": 10_000}
    ) as client:
        # when a batch and then each record alone are scored
        batch = client.post("/predict", json={"records": sent}).json()["predictions"]
        alone = [client.post("/predict", json=r).json() for r in sent[:40]]
        status = client.get("/metadata").json()["canary"]
    # then the challenger served exactly the ids whose hash falls in the share, and said so
    for answer in batch:
        expected = "challenger" if to_challenger(answer["id"], 0.3) else "champion"
        assert answer["variant"] == expected and answer["model_version"] == ("2" if expected == "challenger" else "1")
    share = sum(a["variant"] == "challenger" for a in batch) / len(batch)
    assert 0.15 < share < 0.45
    # and an id keeps its model from one request to the next
    assert [a["variant"] for a in alone] == [a["variant"] for a in batch[:40]]
    assert status["state"] == "ramping" and status["share"] == 0.3 and status["version"] == "2"


def test_canary_ramps_up_in_steps(serving_env: ServingEnv) -> None:
    canary = {"ramp": [0.2, 0.6], "step_requests": 5, "max_p99_ms": 10_000}
    with serving(serving_env, mode="canary", canary=canary) as client:
        assert client.get("/metadata").json()["canary"]["share"] == 0.2
        # when single-record requests keep coming until five of them reached the challenger
        for record in records(150):
            client.post("/predict", json=record)
        status = client.get("/metadata").json()["canary"]
    # then the ramp moved to its last step and holds there
    assert (status["share"], status["step"], status["state"]) == (0.6, 1, "holding")


def test_canary_aborts_to_the_champion_when_the_latency_budget_breaks(serving_env: ServingEnv) -> None:
    sent = records(300)
    # given a p99 budget no model can meet
    with serving(
        serving_env, mode="canary", canary={"ramp": [0.5], "step_requests": 1000, "max_p99_ms": 0.001}
    ) as client:
        # when enough requests reach the challenger for a p99 to mean something
        first = [client.post("/predict", json=r).json() for r in sent[:150]]
        after = client.post("/predict", json={"records": sent[150:]}).json()["predictions"]
        status = client.get("/metadata").json()["canary"]
        aborted_metric = [
            line for line in client.get("/metrics").text.splitlines() if line.startswith("perennial_canary_aborted ")
        ]
    # then the ramp aborted with its reason, and everything after went to the champion
    assert any(a["variant"] == "challenger" for a in first)
    assert status["state"] == "aborted" and "p99 latency" in status["reason"] and status["share"] == 0
    assert {a["model_version"] for a in after} == {"1"}
    assert aborted_metric == ["perennial_canary_aborted 1.0"]


def test_a_challenger_equal_to_the_champion_is_no_challenger(serving_env: ServingEnv) -> None:
    serving_env.move("challenger", "1")
    with TestClient(create_app(serving_env.config(mode="shadow"), serving_env.settings)) as client:
        assert client.get("/ready").json() == {"ready": True, "champion": "1", "challenger": None}
        assert client.get("/metadata").json()["shadow"] is None


def test_a_release_mode_set_in_the_registry_switches_a_running_service(serving_env: ServingEnv) -> None:
    sent = records(100)
    canary = {"ramp": [0.5], "step_requests": 10_000, "max_p99_ms": 10_000}
    # given a service configured for the champion alone, and v2 as challenger
    with serving(serving_env, mode="champion", reload_interval_seconds=0.1, canary=canary) as client:

        def meta_when(check: Any) -> dict[str, Any]:
            deadline = time.monotonic() + 15
            while not check(meta := client.get("/metadata").json()) and time.monotonic() < deadline:
                time.sleep(0.05)
            return meta

        assert client.get("/metadata").json()["challenger"] is None
        # when `perennial release shadow` is recorded, then the service loads v2 and shadows it
        release(serving_env.registry, serving_env.ledger, "shadow", "try v2")
        shadowing = meta_when(lambda m: m["mode"] == "shadow")
        answers = client.post("/predict", json={"records": sent}).json()["predictions"]
        assert shadowing["challenger"]["version"] == "2" and shadowing["shadow"]["challenger_version"] == "2"
        assert {a["model_version"] for a in answers} == {"1"}
        # when canary follows, then half the ids (by hash) are answered by v2, with no shadow any more
        release(serving_env.registry, serving_env.ledger, "canary", "shadow agreed")
        canarying = meta_when(lambda m: m["mode"] == "canary")
        answers = client.post("/predict", json={"records": sent}).json()["predictions"]
        assert canarying["shadow"] is None and canarying["canary"]["share"] == 0.5
        assert all((a["model_version"] == "2") == to_challenger(a["id"], 0.5) for a in answers)
        # when the release goes back to the champion alone, then v2 is unloaded
        release(serving_env.registry, serving_env.ledger, "champion", "enough")
        alone = meta_when(lambda m: m["mode"] == "champion")
        assert alone["challenger"] is None and alone["canary"] is None
