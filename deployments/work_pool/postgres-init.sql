-- One PostgreSQL, three databases: Prefect's API, MLflow's tracking and registry, Perennial's promotion ledger.
CREATE DATABASE prefect;
CREATE DATABASE mlflow;
CREATE DATABASE perennial;
