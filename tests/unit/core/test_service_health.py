"""Serving health from the service's own /metrics text, read as Prometheus would."""

from __future__ import annotations

import pytest

from perennial.core.service_health import ServiceHealth, service_health
from perennial.serving.metrics import ServiceMetrics


def test_requests_errors_and_latency_quantiles_of_the_predict_route() -> None:
    # given a service that answered 100 predictions: 90 in 4 ms, 10 rejected after 40 ms, and some health checks
    metrics = ServiceMetrics(lambda: {"model": "flights-delay", "versions": {"champion": "3", "challenger": None}})
    for i in range(100):
        metrics.observe_request("/predict", "POST", 422 if i >= 90 else 200, 0.04 if i >= 90 else 0.004)
    for _ in range(50):
        metrics.observe_request("/health", "GET", 200, 0.0005)
    # when its metrics text is read
    health = service_health(metrics.render().decode())
    # then only /predict counts, and the quantiles interpolate inside the buckets like histogram_quantile
    assert (health.requests, health.errors, health.error_rate) == (100, 10, 0.1)
    assert health.latency_p50_ms == pytest.approx(3.0 + 1.0 * 50 / 90)
    assert health.latency_p99_ms == pytest.approx(25.0 + 25.0 * 9 / 10)
    assert health.rss_mb > 0 and health.versions == {"champion": "3"}
    assert "100 predict requests since start, error rate 10.00%" in health.describe()


def test_an_unreachable_service_is_a_finding_that_says_why() -> None:
    health = ServiceHealth.unreachable("http://127.0.0.1:9/metrics: ConnectError")
    assert health.to_dict() == {"reachable": False, "error": "http://127.0.0.1:9/metrics: ConnectError"}
    assert health.describe() == "unreachable (http://127.0.0.1:9/metrics: ConnectError)"


def test_a_service_that_served_nothing_has_no_latency_and_no_error_rate() -> None:
    health = service_health(ServiceMetrics(lambda: {}).render().decode())
    assert health.requests == 0 and health.error_rate == 0.0
    assert health.latency_p99_ms != health.latency_p99_ms  # NaN: nothing measured
