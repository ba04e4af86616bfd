"""log_training_run: what one run records, in a local SQLite store, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from market_assets.tracking import (
    LoggedModel,
    TrackingConfig,
    champion_version,
    load_model,
    local_tracking_config,
    model_aliases,
    model_version_tags,
    set_alias,
    tracking_uri_for,
)
from market_assets.tracking._session import activate, artifact_location, client_for

MODEL = "ridge_returns"
TAGS = {
    "dagster/run_id": "0f6c1d2e-run",
    "dagster/partition": "2024-01-01",
    "input_data_version/feature_table": "abc123",
    "training_cutoff": "2023-12-29",
}


@pytest.fixture(scope="module")
def logged(store: TrackingConfig, log_ridge) -> tuple[LoggedModel, object]:
    """One run: a NaN metric among the metrics, the Dagster-style tags above."""
    metrics = {"ic": 0.031, "rmse": 0.012, "icir": float("nan")}
    return log_ridge(store, MODEL, alpha=0.5, metrics=metrics, tags=TAGS)


def test_run_records_params_metrics_tags_and_skipped_nan(store: TrackingConfig, logged) -> None:
    run = client_for(store).get_run(logged[0].run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.5"
    assert run.data.metrics == {"ic": 0.031, "rmse": 0.012}
    assert run.data.tags["skipped_metrics"] == "icir"
    assert TAGS.items() <= run.data.tags.items()


def test_version_is_registered_with_the_caller_tags(store: TrackingConfig, logged) -> None:
    result = logged[0]
    assert result.version == "1"
    assert result.model_uri == f"models:/{MODEL}/1"
    assert result.run_url is None  # a database store has no UI address
    assert TAGS.items() <= model_version_tags(store, MODEL, result.version).items()
    assert client_for(store).get_model_version(MODEL, "1").run_id == result.run_id


def test_model_has_signature_and_input_example(store: TrackingConfig, logged, features) -> None:
    import mlflow

    info = mlflow.models.get_model_info(logged[0].model_uri)
    assert info.signature.inputs.input_names() == list(features[0].columns)
    assert info.signature.outputs is not None
    assert info.saved_input_example_info["type"] == "dataframe"
    example = json.loads((_model_dir(store, info) / "input_example.json").read_text())
    assert example["columns"] == list(features[0].columns)
    assert len(example["data"]) == 5


def _model_dir(store: TrackingConfig, info) -> Path:
    """Local directory of a logged model (mlflow 3: ``<artifact root>/models/<model id>/artifacts``)."""
    return Path(store.artifact_root) / "models" / info.model_id / "artifacts"


def test_importance_chart_and_ranking_are_run_artifacts(store: TrackingConfig, logged, features) -> None:
    run_dir = Path(store.artifact_root) / logged[0].run_id / "artifacts" / "feature_importance"
    assert (run_dir / "feature_importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ranking = json.loads((run_dir / "feature_importance.json").read_text())
    coefficients = dict(zip(features[0].columns, logged[1].coef_, strict=True))
    assert list(ranking) == sorted(coefficients, key=lambda name: -abs(coefficients[name]))


def test_loaded_model_predicts_identically(store: TrackingConfig, logged, features) -> None:
    loaded = load_model(store, MODEL, logged[0].version)
    np.testing.assert_array_equal(loaded.predict(features[0]), logged[1].predict(features[0]))
    assert "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" not in os.environ  # allowed for the call only


def test_model_requirements_are_pinned_without_inference(store: TrackingConfig, logged) -> None:
    import mlflow

    info = mlflow.models.get_model_info(logged[0].model_uri)
    requirements = (_model_dir(store, info) / "requirements.txt").read_text().split()
    assert {r.split("==")[0] for r in requirements} == {"mlflow", "scikit-learn", "skops"}


def test_a_config_never_reads_the_store_of_an_earlier_one(store: TrackingConfig, logged, tmp_path) -> None:
    set_alias(store, MODEL, "champion", logged[0].version)
    activate(store)  # the process-wide URIs now point at `store`
    other = local_tracking_config(tmp_path / "other")
    assert model_aliases(other, MODEL) == {}
    assert champion_version(other, MODEL) is None
    assert model_aliases(store, MODEL) == {"champion": logged[0].version}


def test_non_numeric_metric_is_refused(store: TrackingConfig, log_ridge) -> None:
    with pytest.raises(TypeError, match=r"metric 'ic'='high': expected a real number"):
        log_ridge(store, "refused_model", metrics={"ic": "high"})


def test_local_artifacts_sit_next_to_the_database(tmp_path: Path) -> None:
    config = TrackingConfig(tracking_uri=tracking_uri_for(tmp_path))
    assert config.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert artifact_location(config) == str(tmp_path.resolve() / "artifacts")
    assert artifact_location(TrackingConfig(tracking_uri="https://mlflow.example:5000")) is None


def test_database_store_without_artifact_root_is_refused() -> None:
    config = TrackingConfig(tracking_uri="postgresql+psycopg2://u:pw@db:5432/mlflow")
    with pytest.raises(ValueError, match=r"postgresql\+psycopg2://u:\*\*\*@db.*expected an artifact_root"):
        artifact_location(config)


def _run_python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_importing_tracking_does_not_import_mlflow_or_matplotlib() -> None:
    code = (
        "import sys, market_assets.tracking, market_assets.tracking.rollback, "
        "market_assets.quant.promotion; "
        "print([m for m in ('mlflow', 'matplotlib', 'sklearn') if m in sys.modules])"
    )
    assert _run_python(code, dict(os.environ)) == "[]"


def test_telemetry_is_off_even_outside_tests_and_ci() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_CURRENT_TEST", "DO_NOT_TRACK")}
    env.pop("MLFLOW_DISABLE_TELEMETRY", None)
    code = (
        "from market_assets.tracking._session import import_mlflow; import_mlflow(); "
        "from mlflow.telemetry import get_telemetry_client; print(get_telemetry_client())"
    )
    assert _run_python(code, env) == "None"



def test_a_run_has_its_name_and_json_artifacts_and_a_link_to_itself(store: TrackingConfig, features) -> None:
    from sklearn.linear_model import Ridge

    from market_assets.tracking import load_json_artifact, log_training_run, run_url

    X, y = features
    contract = {"feature_columns": list(X.columns), "required_features": ["mom_20"]}
    logged = log_training_run(
        store, model_name="named_run", model=Ridge().fit(X, y), X_example=X, params={"alpha": 1.0},
        metrics={"ic": 0.01}, feature_importance=None, tags={}, run_name="ridge h1 week 2025-11-02",
        json_artifacts={"features.json": contract},
    )
    run = client_for(store).get_run(logged.run_id)
    assert run.info.run_name == "ridge h1 week 2025-11-02"
    assert load_json_artifact(store, logged.run_id, "features.json") == contract
    with pytest.raises(FileNotFoundError, match=rf"run {logged.run_id} has no artifact 'other.json'"):
        load_json_artifact(store, logged.run_id, "other.json")
    ui = TrackingConfig(tracking_uri=store.tracking_uri, ui_url="http://127.0.0.1:5000/")
    assert run_url(ui, logged.run_id).startswith("http://127.0.0.1:5000/#/experiments/")
    assert run_url(ui, logged.run_id).endswith(f"/runs/{logged.run_id}")
    assert run_url(store, logged.run_id) is None
