"""Canary routing: which ids the challenger serves, and how its share ramps up or aborts. Pure.

An id's place in [0, 1) is a hash of the id, so the same id always lands on the same model
(on every replica, after every restart), and an id the challenger served at 5% is still
served by it at 25%: raising the share only adds ids.

The ramp walks the configured shares. Each step lasts ``step_requests`` challenger-served
requests; it moves up if the step stayed within budget (error rate, p99 latency) and aborts
to share 0 the moment either budget is broken. After the last step it holds. A new
challenger version starts a new ramp. With ``release.decide: auto`` requests are not enough:
the ramp waits at the step delayed outcomes allow (``cap``, raised by the monitoring flow).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Literal

from perennial.config import Canary

# budgets are judged on at least this many requests (one slow request is not a p99)
MIN_SAMPLES = 20

State = Literal["idle", "ramping", "holding", "aborted"]


def bucket(key: str) -> float:
    """A stable position in [0, 1) for an id."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def to_challenger(key: str, share: float) -> bool:
    return share > 0 and bucket(key) < share


def p99(values: list[float]) -> float | None:
    """The nearest-rank 99th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class RampStatus:
    state: State
    version: str | None
    step: int  # index into the ramp
    share: float
    requests: int  # challenger-served requests in this step
    errors: int
    error_rate: float
    p99_ms: float | None
    reason: str | None = None
    cap: int | None = None  # the highest step outcomes allow (None: requests alone decide)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class CanaryRamp:
    """The ramp's state machine. Not thread-safe: the service drives it from its event loop."""

    def __init__(self, policy: Canary) -> None:
        self.policy = policy
        self._state: State = "idle"
        self._version: str | None = None
        self._step = 0
        self._reason: str | None = None
        self.cap: int | None = None
        self._reset_step()

    def _reset_step(self) -> None:
        self._requests = self._errors = 0
        self._latencies: list[float] = []

    def start(self, version: str | None) -> None:
        """A (new) challenger version: ramp from the first step; None: no canary."""
        self._state, self._version, self._step, self._reason = ("ramping" if version else "idle"), version, 0, None
        self._reset_step()

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def share(self) -> float:
        if self._state in ("ramping", "holding"):
            return self.policy.ramp[self._step]
        return 0.0

    def observe(self, ok: bool, latency_ms: float) -> RampStatus | None:
        """One challenger-served request; returns the new status when the state or step changed."""
        if self._state not in ("ramping", "holding"):
            return None
        self._requests += 1
        if ok:
            self._latencies.append(latency_ms)
        else:
            self._errors += 1
        breach = self._breach()
        if breach is not None:
            self._state, self._reason = "aborted", breach
            return self.status()
        if self._state == "ramping" and self._requests >= self.policy.step_requests:
            if self.cap is not None and self._step >= self.cap:
                self._reset_step()  # the step's budget is judged afresh while outcomes are awaited
                return None
            if self._step + 1 < len(self.policy.ramp):
                self._step += 1
            else:
                self._state = "holding"
            self._reset_step()
            return self.status()
        return None

    def _breach(self) -> str | None:
        policy, n = self.policy, self._requests
        # more errors than the whole step may hold: no need to wait for the sample
        if self._errors > policy.max_error_rate * policy.step_requests or (
            n >= min(MIN_SAMPLES, policy.step_requests) and self._errors / n > policy.max_error_rate
        ):
            return f"error rate {self._errors}/{n} above {policy.max_error_rate:.2%}"
        if len(self._latencies) >= min(MIN_SAMPLES, policy.step_requests):
            worst = p99(self._latencies)
            if worst is not None and worst > policy.max_p99_ms:
                return f"p99 latency {worst:.1f} ms above {policy.max_p99_ms:.1f} ms"
        return None

    def status(self) -> RampStatus:
        n = self._requests
        return RampStatus(
            state=self._state,
            version=self._version,
            step=self._step,
            share=self.share,
            requests=n,
            errors=self._errors,
            error_rate=self._errors / n if n else 0.0,
            p99_ms=p99(self._latencies),
            reason=self._reason,
            cap=self.cap,
        )
