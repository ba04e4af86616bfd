-- Run once by the postgres image when its volume is empty: the MLflow backend store and
-- the Optuna studies get databases of their own beside Dagster's (each keeps an
-- alembic_version table, so they cannot share one).
CREATE DATABASE mlflow;
CREATE DATABASE optuna;
