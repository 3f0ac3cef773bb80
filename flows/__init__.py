"""Prefect flows that compose the tasks; each file runs alone with `python -m flows.<name>`.

Importing the package exports Perennial's embedded defaults (state folder, SQLite for
Prefect and MLflow) before Prefect is imported, so `python -m flows.training` needs no
set-up. Variables already set (a real server's URL) win.
"""

import argparse
import datetime as dt

from perennial.settings import apply_defaults, default_config

apply_defaults()

DEFAULT_CONFIG = default_config()  # pyproject's [tool.perennial] default_config


def command_line(doc: str | None, *dates: str) -> argparse.ArgumentParser:
    """What every `python -m flows.<name>` parses: --config, and the named options as ISO dates."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    for name in dates:
        parser.add_argument(name, type=dt.date.fromisoformat)
    return parser
