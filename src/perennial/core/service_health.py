"""Serving health read from the service's Prometheus text (`GET /metrics`): pure parsing.

Counters are cumulative since the service started; monitoring records them per window, so the
history in MLflow shows their growth, and the error rate and latency quantiles are since start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

PREDICT = "/predict"


def _histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Prometheus' histogram_quantile: linear inside the bucket holding the q-th observation."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower  # beyond the last finite bound: its lower edge, as Prometheus does
            return lower + (upper - lower) * ((rank - below) / (count - below) if count > below else 0.0)
        lower, below = upper, count
    return lower


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """What a running service's /metrics said: requests, errors, latency, versions, memory; or why it did not."""

    reachable: bool
    error: str | None = None
    requests: float = 0.0
    errors: float = 0.0
    error_rate: float = 0.0
    latency_p50_ms: float = float("nan")
    latency_p99_ms: float = float("nan")
    versions: Mapping[str, str] = field(default_factory=dict)
    rss_mb: float = float("nan")

    @classmethod
    def unreachable(cls, why: str) -> ServiceHealth:
        return cls(reachable=False, error=why)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["versions"] = dict(self.versions)
        return out if self.reachable else {"reachable": False, "error": self.error}

    def describe(self) -> str:
        if not self.reachable:
            return f"unreachable ({self.error})"
        served = ", ".join(f"{role} v{v}" for role, v in self.versions.items()) or "no model"
        return (
            f"{self.requests:,.0f} predict requests since start, error rate {self.error_rate:.2%}, "
            f"p50 {self.latency_p50_ms:.1f} ms, p99 {self.latency_p99_ms:.1f} ms, {served}, {self.rss_mb:.0f} MB"
        )


def service_health(text: str, route: str = PREDICT) -> ServiceHealth:
    """Requests, errors, error rate, latency p50/p99 (ms) of ``route``, served versions, resident memory."""
    requests = errors = 0.0
    buckets: list[tuple[float, float]] = []
    versions: dict[str, str] = {}
    rss = float("nan")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "perennial_requests_total" and labels.get("route") == route:
                requests += sample.value
            elif sample.name == "perennial_request_errors_total" and labels.get("route") == route:
                errors += sample.value
            elif sample.name == "perennial_request_latency_seconds_bucket" and labels.get("route") == route:
                buckets.append((float(labels["le"]), sample.value))
            elif sample.name == "perennial_model_info":
                versions[labels.get("role", "?")] = labels.get("version", "?")
            elif sample.name == "process_resident_memory_bytes":
                rss = sample.value / 2**20
    return ServiceHealth(
        reachable=True,
        requests=requests,
        errors=errors,
        error_rate=errors / requests if requests else 0.0,
        latency_p50_ms=_histogram_quantile(buckets, 0.50) * 1000,
        latency_p99_ms=_histogram_quantile(buckets, 0.99) * 1000,
        versions=versions,
        rss_mb=rss,
    )
