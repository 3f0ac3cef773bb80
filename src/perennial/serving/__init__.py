"""Online serving: a FastAPI service over the registry's champion (`perennial serve`).

Never imports Prefect; importing this package does no work.
"""
