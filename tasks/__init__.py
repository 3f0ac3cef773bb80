"""Thin Prefect tasks around the core: retries only on I/O, no caching of side effects."""
