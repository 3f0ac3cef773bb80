"""Canary routing, pure: sticky buckets and the ramp's steps, holds and aborts."""

from __future__ import annotations

from perennial.config import Canary
from perennial.serving.routing import CanaryRamp, bucket, p99, to_challenger


def test_buckets_are_stable_uniform_and_sticky_as_the_share_grows() -> None:
    ids = [f"flight-{i}" for i in range(20_000)]
    # given an id, then it always lands in the same place
    assert bucket("flight-1") == bucket("flight-1") and 0 <= bucket("flight-1") < 1
    # when the share is 5%, about 5% of ids go to the challenger
    at_5 = {i for i in ids if to_challenger(i, 0.05)}
    assert 0.04 < len(at_5) / len(ids) < 0.06
    # and raising the share to 25% keeps every one of them there (it only adds ids)
    at_25 = {i for i in ids if to_challenger(i, 0.25)}
    assert at_5 <= at_25 and 0.23 < len(at_25) / len(ids) < 0.27
    assert not any(to_challenger(i, 0.0) for i in ids[:100])


def test_ramp_moves_up_a_step_after_enough_good_requests_then_holds() -> None:
    # given a three-step ramp of four requests a step
    ramp = CanaryRamp(Canary(ramp=(0.1, 0.3, 0.6), step_requests=4, max_error_rate=0.5, max_p99_ms=100))
    assert ramp.share == 0.0  # no challenger yet
    ramp.start("2")
    shares = [ramp.share]
    # when requests within budget keep coming
    for _ in range(12):
        ramp.observe(ok=True, latency_ms=5.0)
        shares.append(ramp.share)
    # then the share walks up the ramp, then holds at the last step
    assert shares[0] == 0.1 and shares[4] == 0.3 and shares[8] == 0.6 and shares[-1] == 0.6
    assert ramp.status().state == "holding" and ramp.status().version == "2"


def test_ramp_aborts_to_zero_when_the_error_rate_breaks_its_budget() -> None:
    ramp = CanaryRamp(Canary(ramp=(0.5,), step_requests=100, max_error_rate=0.02, max_p99_ms=100))
    ramp.start("2")
    # when three of the first requests fail (more than 2% of the whole step can hold)
    statuses = [ramp.observe(ok=i % 2 == 0, latency_ms=1.0) for i in range(6)]
    # then the ramp aborts at once, with the reason, and routes nothing more
    aborted = next(s for s in statuses if s is not None)
    assert aborted.state == "aborted" and "error rate" in (aborted.reason or "")
    assert ramp.share == 0.0 and ramp.observe(ok=True, latency_ms=1.0) is None


def test_ramp_aborts_when_p99_latency_breaks_its_budget_but_not_on_one_slow_request() -> None:
    ramp = CanaryRamp(Canary(ramp=(0.5,), step_requests=1000, max_error_rate=0.1, max_p99_ms=50))
    ramp.start("2")
    # given one slow request among few: too few to judge a p99
    assert ramp.observe(ok=True, latency_ms=500.0) is None
    # when many slow requests follow
    results = [ramp.observe(ok=True, latency_ms=80.0) for _ in range(30)]
    # then the ramp aborts on p99 and says so
    aborted = next(s for s in results if s is not None)
    assert aborted.state == "aborted" and "p99 latency" in (aborted.reason or "")
    # and a new challenger version starts a new ramp
    ramp.start("3")
    assert ramp.share == 0.5 and ramp.status().state == "ramping"


def test_p99_is_nearest_rank() -> None:
    assert p99([]) is None
    assert p99([float(i) for i in range(1, 101)]) == 99.0
    assert p99([3.0]) == 3.0
