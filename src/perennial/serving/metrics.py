"""Prometheus metrics of the service (prometheus_client, one registry per app).

Requests (count, errors, latency histogram) are measured by a plain ASGI middleware around
the whole app; model versions, canary and shadow state and the prediction log are read at
scrape time from the service, so the request path only bumps counters.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROUTES = frozenset({"/predict", "/health", "/ready", "/metadata", "/metrics", "/admin/reload", "/admin/rollback"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Snapshot(Collector):
    """Gauges read from the service at scrape time."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self._read = read

    def collect(self) -> list[Metric]:
        state = self._read()
        info = GaugeMetricFamily(
            "perennial_model_info", "Model versions being served (value 1)", labels=["role", "model", "version"]
        )
        version = GaugeMetricFamily("perennial_model_version", "Served version number by role", labels=["role"])
        for role, number in state.get("versions", {}).items():
            if number is not None:
                info.add_metric([role, state.get("model", ""), str(number)], 1)
                version.add_metric([role], float(number) if str(number).isdigit() else 0.0)
        ready = GaugeMetricFamily("perennial_ready", "1 when a model is loaded and requests are served")
        ready.add_metric([], 1.0 if state.get("ready") else 0.0)
        canary = GaugeMetricFamily("perennial_canary_share", "Share of ids routed to the challenger")
        canary.add_metric([], float(state.get("canary_share", 0.0)))
        aborted = GaugeMetricFamily("perennial_canary_aborted", "1 when the canary ramp aborted")
        aborted.add_metric([], 1.0 if state.get("canary_state") == "aborted" else 0.0)
        shadow = GaugeMetricFamily("perennial_shadow_agreement", "Share of shadow rows with the champion's label")
        if state.get("shadow_agreement") is not None:
            shadow.add_metric([], float(state["shadow_agreement"]))
        logged = CounterMetricFamily("perennial_prediction_log_rows", "Prediction log rows", labels=["outcome"])
        for outcome in ("written", "dropped"):
            logged.add_metric([outcome], float(state.get(f"log_{outcome}", 0)))
        return [info, version, ready, canary, aborted, shadow, logged]


class ServiceMetrics:
    def __init__(self, read_state: Callable[[], dict[str, Any]]) -> None:
        # prometheus_client leaves disable_created_metrics unannotated
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only double the scrape
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes and friends
        r = self.registry
        self.requests = Counter("perennial_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.errors = Counter(
            "perennial_request_errors", "Requests answered with 4xx or 5xx", ["route", "kind"], registry=r
        )
        self.latency = Histogram(
            "perennial_request_latency_seconds",
            "Request latency in the server",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter("perennial_predictions", "Rows scored and returned", ["variant"], registry=r)
        self.unseen = Counter(
            "perennial_unseen_categories", "Category values the model never saw", ["column"], registry=r
        )
        self.batch_rows = Histogram(
            "perennial_batch_rows",
            "Rows per predict call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.batch_jobs = Histogram(
            "perennial_batch_requests",
            "Requests coalesced per predict call",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.reloads = Counter("perennial_model_reloads", "Model set reloads", ["result"], registry=r)
        self.refused = Counter(
            "perennial_model_refused",
            "Alias moves refused: not recorded in the promotion ledger",
            ["alias"],
            registry=r,
        )
        self.shadow_errors = Counter("perennial_shadow_errors", "Shadow predict calls that failed", registry=r)
        self.canary_fallbacks = Counter(
            "perennial_canary_fallbacks", "Challenger failures answered by the champion", registry=r
        )
        r.register(_Snapshot(read_state))
        self._request_children: dict[tuple[str, str, int], Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:  # labels() costs a lock and a lookup: cache the children
            child = self._request_children[key] = self.requests.labels(route, method, str(status))
        child.inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, "client" if status < 500 else "server").inc()

    def observe_batch(self, jobs: int, rows: int, seconds: float) -> None:
        self.batch_rows.observe(rows)
        self.batch_jobs.observe(jobs)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times every HTTP request and counts it by route template and status (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope.get("path", "")
            route = path if path in ROUTES else "other"  # unknown paths share one label
            self.metrics.observe_request(route, scope.get("method", ""), status, time.perf_counter() - started)
