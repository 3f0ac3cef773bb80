"""Prefect flows that compose the tasks; each file runs alone with `python -m flows.<name>`.

Importing the package exports Perennial's embedded defaults (state folder, SQLite for
Prefect and MLflow) before Prefect is imported, so `python -m flows.training` needs no
set-up. Variables already set (a real server's URL) win.
"""

from perennial.settings import apply_defaults

apply_defaults()
