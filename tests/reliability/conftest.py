"""Reliability tests: the bad-input corpus, concurrency on the stores, doctor, security.

Flow-level tests ask for ``prefect_harness`` (one per xdist worker, only when needed); the pure
tests need neither.
"""
