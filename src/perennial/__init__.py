"""Perennial: the production lifecycle of a tabular ML model on Prefect and MLflow.

The package is the pure, typed core (``perennial.core``), the side-effect edges
(``perennial.io``) and the CLI. It never imports Prefect: orchestration lives in the
project's ``tasks/`` and ``flows/`` folders.
"""

__version__ = "0.1.0"
