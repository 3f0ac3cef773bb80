"""The service in process (FastAPI's TestClient) on real models in a real MLflow registry."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perennial.io.prediction_store import open_store
from perennial.serving.app import create_app
from tests.serving.conftest import ServingEnv, records

TOKEN = "s3cret-token"


@contextmanager
def serving(env: ServingEnv, **serving_options: Any) -> Iterator[TestClient]:
    app = create_app(env.config(**serving_options), env.settings)
    with TestClient(app) as client:
        yield client


def served_version_becomes(client: TestClient, version: str, seconds: float = 15) -> bool:
    """Whether the service answers with ``version`` within ``seconds`` (the poller has to notice first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.post("/predict", json=records(1)[0]).json()["model_version"] == version:
            return True
        time.sleep(0.05)
    return False


def metric(client: TestClient, name: str) -> float:
    """The value of one sample line of /metrics (0 when absent)."""
    for line in client.get("/metrics").text.splitlines():
        if line.rsplit(" ", 1)[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_one_record_and_a_batch_are_scored_with_the_model_version(serving_env: ServingEnv) -> None:
    sent = records(40)
    with serving(serving_env) as client:
        # when one record is posted
        one = client.post("/predict", json=sent[0])
        # then it is answered with its id, a probability, the label at the threshold and the version
        assert one.status_code == 200
        body = one.json()
        assert body["id"] == "f7-0" and 0 <= body["prediction"] <= 1
        assert body["label"] == int(body["prediction"] >= 0.5) and body["model_version"] == "1"
        assert body["model_name"] == "tiny-delay" and body["variant"] == "champion"
        # and a batch gets one answer per record, in order, each with the version
        batch = client.post("/predict", json={"records": sent}).json()
        assert [p["id"] for p in batch["predictions"]] == [f"f7-{i}" for i in range(40)]
        assert {p["model_version"] for p in batch["predictions"]} == {"1"}
        # and the same record scores the same alone and in a batch
        assert batch["predictions"][0]["prediction"] == pytest.approx(body["prediction"])


def test_health_ready_metadata_and_metrics(serving_env: ServingEnv) -> None:
    with serving(serving_env) as client:
        client.post("/predict", json={"records": records(3)})
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json() == {"ready": True, "champion": "1", "challenger": None}
        meta = client.get("/metadata").json()
        assert meta["champion"]["version"] == "1" and meta["mode"] == "champion"
        assert meta["champion"]["direct_path"] is True
        names = [f["name"] for f in meta["input"]["fields"]]
        assert names == ["flight_id", "distance", "temp", "carrier", "origin", "time_hour"]
        text = client.get("/metrics").text
        for expected in (
            'perennial_requests_total{method="POST",route="/predict",status="200"} 1.0',
            "perennial_request_latency_seconds_bucket",
            'perennial_model_info{model="tiny-delay",role="champion",version="1"} 1.0',
            'perennial_model_version{role="champion"} 1.0',
            "process_resident_memory_bytes",
            'perennial_predictions_total{variant="champion"} 3.0',
        ):
            assert expected in text, expected


def test_bad_requests_get_field_level_4xx_and_the_server_keeps_serving(serving_env: ServingEnv) -> None:
    good = records(1)[0]
    with serving(serving_env, max_body_bytes=4096, max_request_rows=5) as client:
        cases = {
            "malformed": (
                client.post("/predict", content=b'{"flight_id": ', headers={"content-type": "application/json"}),
                400,
            ),
            "missing": (client.post("/predict", json={k: v for k, v in good.items() if k != "temp"}), 422),
            "extra": (client.post("/predict", json={**good, "wingspan": 3}), 422),
            "type": (client.post("/predict", json={"records": [good, {**good, "distance": "far"}]}), 422),
            "bytes": (
                client.post(
                    "/predict",
                    content=json.dumps({"records": records(60)}),
                    headers={"content-type": "application/json"},
                ),
                413,
            ),
            "rows": (client.post("/predict", json={"records": records(6)}), 413),
        }
        for name, (response, status) in cases.items():
            assert response.status_code == status, (name, response.text)
            assert all({"field", "msg", "type"} <= set(e) for e in response.json()["detail"]), name
        assert cases["missing"][0].json()["detail"][0]["field"] == "temp"
        assert cases["extra"][0].json()["detail"][0]["field"] == "wingspan"
        assert cases["type"][0].json()["detail"][0]["field"] == "records[1].distance"
        # then the next good request is served, and the refusals were counted as client errors
        assert client.post("/predict", json=good).status_code == 200
        assert metric(client, 'perennial_request_errors_total{kind="client",route="/predict"}') == 6


def test_unseen_categories_are_scored_and_counted(serving_env: ServingEnv) -> None:
    with serving(serving_env) as client:
        batch = [{**r, "carrier": "ZZ"} for r in records(3)] + [{**records(1)[0], "origin": "XYZ"}]
        response = client.post("/predict", json={"records": batch})
        assert response.status_code == 200 and len(response.json()["predictions"]) == 4
        assert metric(client, 'perennial_unseen_categories_total{column="carrier"}') == 3
        assert metric(client, 'perennial_unseen_categories_total{column="origin"}') == 1


def test_every_prediction_goes_to_the_prediction_log(serving_env: ServingEnv) -> None:
    # given a service that scores two requests
    config = serving_env.config()
    with serving(serving_env) as client:
        sent = records(5)
        client.post("/predict", json={"records": sent[:4]})
        answer = client.post("/predict", json=sent[4]).json()
    # when it has shut down (the log is flushed on the way out)
    logged = open_store(config, serving_env.settings.root).read("service")
    # then every row is in the store, joinable on id, with the batch scorer's columns
    assert sorted(logged["id"]) == sorted(r["flight_id"] for r in sent)
    row = logged.set_index("id").loc["f7-4"]
    assert row["prediction"] == pytest.approx(answer["prediction"]) and row["model_version"] == "1"
    assert row["predicted_label"] == answer["label"] and row["source"] == "service"
    assert row["event_time"].isoformat() == sent[4]["time_hour"].replace("Z", "+00:00")
    assert {"distance", "temp", "carrier", "origin", "scored_at", "model_name"} <= set(logged.columns)


def test_without_a_champion_the_service_is_not_ready_until_one_appears(serving_env: ServingEnv) -> None:
    serving_env.registry._client.delete_registered_model_alias("tiny-delay", "champion")
    with serving(serving_env, reload_interval_seconds=0.2) as client:
        assert client.get("/ready").status_code == 503
        assert client.get("/health").status_code == 200
        refused = client.post("/predict", json=records(1)[0])
        assert refused.status_code == 503 and "champion" in refused.json()["detail"][0]["msg"]
        # when a champion is promoted, the poller loads it
        serving_env.move("champion", "2")
        deadline = time.monotonic() + 15
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.post("/predict", json=records(1)[0]).json()["model_version"] == "2"


def test_the_alias_moving_is_followed_by_polling(serving_env: ServingEnv) -> None:
    with serving(serving_env, reload_interval_seconds=0.2) as client:
        assert client.post("/predict", json=records(1)[0]).json()["model_version"] == "1"
        serving_env.move("champion", "2")
        assert served_version_becomes(client, "2")
        assert client.get("/metadata").json()["champion"]["version"] == "2"


def test_an_alias_moved_around_the_ledger_is_refused_and_the_old_model_keeps_serving(
    serving_env: ServingEnv, caplog: pytest.LogCaptureFixture
) -> None:
    refused_metric = 'perennial_model_refused_total{alias="champion"}'
    with serving(serving_env, reload_interval_seconds=0.2) as client:
        assert client.post("/predict", json=records(1)[0]).json()["model_version"] == "1"
        # when someone moves the champion alias in MLflow directly, not through promote, release or rollback
        serving_env.registry._client.set_registered_model_alias("tiny-delay", "champion", "2")
        deadline = time.monotonic() + 15
        while metric(client, refused_metric) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        # then the move is refused: counted once, logged, said in /metadata, and v1 keeps serving
        time.sleep(0.5)  # more polls: still one refusal counted and logged
        assert metric(client, refused_metric) == 1
        assert client.post("/predict", json=records(1)[0]).json()["model_version"] == "1"
        why = client.get("/metadata").json()["last_reload_error"]
        assert "alias champion points at v2, but the ledger's last champion move was to v1: refused" in why
        assert sum("refused" in r.getMessage() for r in caplog.records) == 1
        # when the same move goes through the ledger, it is followed
        serving_env.move("champion", "2")
        assert served_version_becomes(client, "2")


def test_a_champion_the_ledger_never_recorded_is_not_served(serving_env: ServingEnv) -> None:
    # given a champion alias set in MLflow on a model whose ledger holds no move
    serving_env.registry._client.set_registered_model_alias("tiny-delay", "champion", "2")
    serving_env.ledger.close()
    (serving_env.folder / "ledger.db").unlink()
    # when the service starts / then it is not ready, and says why
    with serving(serving_env, reload_interval_seconds=3600) as client:
        assert client.get("/ready").status_code == 503
        assert "the ledger never moved champion: refused" in client.get("/metadata").json()["last_reload_error"]


def test_admin_routes_are_off_without_a_token(serving_env: ServingEnv) -> None:
    with serving(serving_env) as client:
        assert client.post("/admin/reload").status_code == 404
        assert client.post("/admin/rollback").status_code == 404


def test_admin_routes_need_the_token_then_reload_and_roll_back(
    serving_env: ServingEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERENNIAL_ADMIN_TOKEN", TOKEN)
    with serving(serving_env, reload_interval_seconds=3600) as client:
        # given no token or a wrong one, then the admin routes refuse
        assert client.post("/admin/reload").status_code == 401
        assert client.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.post("/admin/reload", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        # when the champion moves and an admin asks for a reload, then v2 is served at once
        serving_env.move("champion", "2")
        assert client.post("/admin/reload", headers=auth).json() == {
            "changed": True,
            "champion": "2",
            "challenger": None,
        }
        assert client.post("/predict", json=records(1)[0]).json()["model_version"] == "2"
        # when an admin rolls back, then the ledger moves the alias back and v1 is served
        rolled = client.post("/admin/rollback", headers=auth, json={"reason": "bad canary"}).json()
        assert (rolled["from"], rolled["to"], rolled["champion"]) == ("2", "1", "1")
        assert client.post("/predict", json=records(1)[0]).json()["model_version"] == "1"
        assert serving_env.ledger.history("tiny-delay", limit=1)[0].reason == "bad canary"
        # and a rollback with nowhere to go is refused clearly
        refused = client.post("/admin/rollback", headers=auth)
        assert refused.status_code == 409 and "no earlier champion" in refused.json()["detail"][0]["msg"]
