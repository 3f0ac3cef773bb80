"""`perennial serve` for real: uvicorn in a subprocess on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from perennial.io.prediction_store import open_store
from tests.serving.conftest import ServingEnv, records, start_server, stop_server

TOKEN = "real-server-token"


def test_the_server_serves_refuses_bad_input_keeps_serving_and_flushes_its_log(serving_env: ServingEnv) -> None:
    # given `perennial serve` started on a free port
    server = start_server(serving_env, max_body_bytes=4096)
    sent = records(12)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            # when good and bad requests arrive
            one = client.post("/predict", json=sent[0])
            batch = client.post("/predict", json={"records": sent[1:11]})
            malformed = client.post("/predict", content=b"{nope", headers={"content-type": "application/json"})
            oversized = client.post(
                "/predict", content=b"[" + b" " * 5000 + b"]", headers={"content-type": "application/json"}
            )
            mistyped = client.post("/predict", json={**sent[11], "temp": "hot"})
            again = client.post("/predict", json=sent[11])
            metrics = client.get("/metrics").text
            admin = client.post("/admin/reload")
    finally:
        code = stop_server(server)
    # then good requests are answered with the version, bad ones with field-level 4xx, and it kept serving
    assert one.status_code == 200 and one.json()["model_version"] == "1"
    assert len(batch.json()["predictions"]) == 10
    assert (malformed.status_code, oversized.status_code, mistyped.status_code) == (400, 413, 422)
    assert mistyped.json()["detail"][0]["field"] == "temp"
    assert again.status_code == 200
    assert 'perennial_request_errors_total{kind="client",route="/predict"} 3.0' in metrics
    assert "process_resident_memory_bytes" in metrics
    # and without a token there are no admin routes; it bound to localhost; it stopped cleanly
    assert admin.status_code == 404
    assert f"Uvicorn running on {server.url}" in server.output()
    # (uvicorn re-raises SIGTERM once its graceful shutdown is done)
    assert "Application shutdown complete" in server.output() and code in (0, -signal.SIGTERM), server.output()
    # and every answered prediction reached the store before the process ended
    logged = open_store(serving_env.config(), serving_env.settings.root).read("service")
    assert sorted(logged["id"]) == sorted(r["flight_id"] for r in sent)


def test_hot_reload_and_rollback_under_load_fail_no_request(serving_env: ServingEnv) -> None:
    # given a server under a steady load of single and batch requests from four clients
    server = start_server(serving_env, token=TOKEN, reload_interval_seconds=3600)
    seen: list[list[str]] = [[] for _ in range(4)]
    failures: list[str] = []
    stop = threading.Event()
    sent = records(50)

    def load(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            i = 0
            while not stop.is_set():
                try:
                    if i % 3 == 0:
                        response = client.post("/predict", json={"records": sent[i % 40 : i % 40 + 10]})
                        versions = (
                            {p["model_version"] for p in response.json()["predictions"]}
                            if response.is_success
                            else set()
                        )
                    else:
                        response = client.post("/predict", json=sent[i % 50])
                        versions = {response.json()["model_version"]} if response.is_success else set()
                    if response.status_code != 200 or len(versions) != 1:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                    seen[worker].append(versions.pop() if versions else "?")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                i += 1

    def settle(version: str) -> None:
        """Until every client has had its last three answers from ``version`` (30 s at most)."""
        deadline = time.monotonic() + 30
        while not all(v[-3:] == [version] * 3 for v in seen) and time.monotonic() < deadline:
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for t in threads:
            t.start()
        settle("1")
        # when the champion moves to v2 and an admin reloads, under load
        serving_env.move("champion", "2")
        reloaded = httpx.post(f"{server.url}/admin/reload", headers=auth, timeout=30).json()
        settle("2")
        # and then rolls back to v1, under load
        rolled = httpx.post(
            f"{server.url}/admin/rollback", headers=auth, json={"reason": "load test"}, timeout=30
        ).json()
        settle("1")
    finally:
        stop.set()
        for t in threads:
            t.join()
        stop_server(server)
    # then not one request failed, and each client saw v1, then v2, then v1 again, with no flapping
    assert failures == []
    assert reloaded["champion"] == "2" and (rolled["from"], rolled["to"]) == ("2", "1")
    for versions in seen:
        changes = [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]
        assert changes == ["1", "2", "1"], changes
