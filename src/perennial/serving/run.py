"""`perennial serve`: the service under uvicorn, one process, one event loop, one predict worker.

Run alone:  python -m perennial.serving.run --config configs/flights.yaml [--host H] [--port P] [--mode M]
"""

from __future__ import annotations

import logging
import os


def serve(config_path: str, host: str | None, port: int | None, mode: str | None = None) -> None:
    """Serve the config's model until interrupted; binds to the config's host (127.0.0.1) by default.

    ``mode`` (champion, shadow, canary) replaces the config's ``serving.mode``; a mode set later
    with `perennial release` wins over both, in every running service.
    """
    # One OpenMP thread before numpy/sklearn load: with a single predict worker, more threads only
    # fight the event loop for 2 cores (the worker also limits itself, for in-process apps)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from perennial.config import load_config
    from perennial.serving.app import create_app
    from perennial.settings import apply_defaults

    settings = apply_defaults()
    config = load_config(config_path)
    if mode is not None:
        config = config.model_copy(update={"serving": config.serving.model_copy(update={"mode": mode})})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(config, settings)
    app.state.service.freeze_heap = True  # this process only serves: keep full GC passes off the loop
    uvicorn.run(
        app,
        host=host or config.serving.host,
        port=port or config.serving.port,
        access_log=False,  # /metrics counts requests; a log line each would cost more than the request
        log_level="info",
        timeout_graceful_shutdown=15,
    )


if __name__ == "__main__":  # pragma: no cover
    import argparse

    from perennial.core.names import RELEASE_MODES
    from perennial.settings import default_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", "-c", default=default_config())
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--mode", choices=RELEASE_MODES)
    args = parser.parse_args()
    serve(args.config, args.host, args.port, args.mode)
