"""MLflow tracking and model registry for trained models.

:func:`log_training_run` records one training run (params, metrics, a
feature-importance chart, the model with its signature and input example)
and registers the model as a new version; the registry functions
(champion / challenger aliases, promotion, rollback, loading) live in
:mod:`market_assets.tracking.registry` and are re-exported here.

mlflow and matplotlib are imported inside the functions that use them, so
importing this module is cheap.  Everything works offline against a local
SQLite store (:func:`local_tracking_config`) as well as against a tracking
server or a PostgreSQL database; no credentials are read here (a server or
database that needs them takes them from its own URI or environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from market_assets.tracking._artifacts import (
    finite_metrics,
    importance_figure,
    pip_requirements,
    ranked_importance,
    skops_trusted_types,
)
from market_assets.tracking._session import (
    TrackingConfig,
    activate,
    client_for,
    experiment_id,
    local_tracking_config,
    redacted,
    tracking_uri_for,
)
from market_assets.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION_TAG,
    ModelVersionInfo,
    NothingToRollBackError,
    champion_version,
    load_model,
    model_aliases,
    model_uri,
    model_version_tags,
    promote_or_challenge,
    rollback_champion,
    set_alias,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHALLENGER", "CHAMPION", "PREVIOUS_CHAMPION_TAG", "SKIPPED_METRICS_TAG",
    "LoggedModel", "ModelVersionInfo", "NothingToRollBackError", "TrackingConfig",
    "champion_version", "load_json_artifact", "load_model", "local_tracking_config", "log_training_run",
    "model_aliases", "run_url",
    "model_uri", "model_version_tags", "promote_or_challenge", "rollback_champion", "set_alias",
    "tracking_uri_for",
]

SKIPPED_METRICS_TAG = "skipped_metrics"
MODEL_ARTIFACT_NAME = "model"
IMPORTANCE_DIR = "feature_importance"


@dataclass(frozen=True)
class LoggedModel:
    """What :func:`log_training_run` recorded.

    Attributes
    ----------
    run_id : str
        The MLflow run.
    model_uri : str
        Registry URI of the new version, ``models:/<name>/<version>``.
    version : str
        The new registry version, as a string.
    run_url : str or None
        Link to the run in the MLflow UI when the tracking URI is an
        ``http(s)`` server; None for database stores.
    """

    run_id: str
    model_uri: str
    version: str
    run_url: str | None


def _run_url(config: TrackingConfig, run_id: str) -> str | None:
    """The run's page in the MLflow UI (``config.ui_url``, or the tracking server itself)."""
    base = config.ui_url or (config.tracking_uri if config.tracking_uri.startswith(("http://", "https://")) else None)
    if base is None:
        return None
    return f"{_without_credentials(base).rstrip('/')}/#/experiments/{experiment_id(config)}/runs/{run_id}"


def _without_credentials(url: str) -> str:
    """``url`` without ``user:password@``: a link shown in the UI must not carry the tracking server's login."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _log_importance(mlflow: Any, importance: Mapping[str, float]) -> None:
    """The bar chart PNG and the full ranking as JSON, under ``feature_importance/``."""
    mlflow.log_figure(importance_figure(importance), f"{IMPORTANCE_DIR}/feature_importance.png")
    mlflow.log_dict(dict(ranked_importance(importance)), f"{IMPORTANCE_DIR}/feature_importance.json")


def _register(client: Any, model_name: str, info: Any, run_id: str, tags: dict[str, str]) -> str:
    """Create ``model_name`` if needed and a new version from the logged model; its number."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(model_name)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    created = client.create_model_version(
        model_name, source=info.model_uri, run_id=run_id, tags=tags, model_id=info.model_id
    )
    return str(created.version)


def log_training_run(
    config: TrackingConfig,
    *,
    model_name: str,
    model: Any,
    X_example: pd.DataFrame,  # noqa: N803 - scikit-learn naming
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    feature_importance: Mapping[str, float] | None,
    tags: Mapping[str, str],
    run_name: str | None = None,
    json_artifacts: Mapping[str, Any] | None = None,
) -> LoggedModel:
    """Log one training run and register its model as a new version of ``model_name``.

    Parameters
    ----------
    config : TrackingConfig
        Where to log; the experiment is created on first use.
    model_name : str
        Registered model name.
    model : scikit-learn estimator
        Fitted; saved with mlflow's sklearn flavor in skops format.
    X_example : pandas.DataFrame
        Feature rows the model accepts; the signature is inferred from them
        and ``model.predict(X_example)``, the first 5 rows are the input example.
    params : mapping
        Logged as run params (values as strings).
    metrics : mapping of str to float
        Logged as run metrics; NaN values are skipped and their names listed
        (comma-separated) in run tag ``skipped_metrics``.
    feature_importance : mapping of str to float or None
        When given and non-empty: a bar chart of the 30 largest (absolute)
        values as ``feature_importance/feature_importance.png`` and the full
        ranking as ``feature_importance/feature_importance.json``.
    tags : mapping of str to str
        Set on the run and on the new model version (e.g. Dagster run id,
        partition, input data versions, training cut-off).  Keep them short:
        long lists belong in ``json_artifacts``.
    run_name : str, optional
        The run's name in the MLflow UI (e.g. ``"ridge h1 week 2025-11-02"``);
        None lets mlflow pick a random one.
    json_artifacts : mapping of str to JSON-serialisable object, optional
        Run artifacts written as JSON files, by artifact path (e.g.
        ``{"features.json": {...}}``); read back with :func:`load_json_artifact`.

    Returns
    -------
    LoggedModel

    Raises
    ------
    TypeError
        A metric that is not a real number.
    ValueError
        A model holding types from untrusted packages (see
        :func:`market_assets.tracking._artifacts.skops_trusted_types`).

    Notes
    -----
    Sets mlflow's process-wide tracking and registry URIs to ``config``'s.
    If logging fails the run is ended as FAILED and the error propagates.
    """
    activate(config)
    import mlflow.sklearn
    from mlflow.models import infer_signature

    kept, skipped = finite_metrics(metrics)
    trusted = skops_trusted_types(model)
    signature = infer_signature(X_example, model.predict(X_example))
    run_tags = {str(key): str(value) for key, value in tags.items()}
    experiment = experiment_id(config)
    with mlflow.start_run(experiment_id=experiment, run_name=run_name, tags=run_tags) as run:
        for path, content in (json_artifacts or {}).items():
            mlflow.log_dict(content, path)
        if params:
            mlflow.log_params({str(key): value for key, value in params.items()})
        if kept:
            mlflow.log_metrics(kept)
        if skipped:
            mlflow.set_tag(SKIPPED_METRICS_TAG, ",".join(skipped))
        if feature_importance:
            _log_importance(mlflow, feature_importance)
        info = mlflow.sklearn.log_model(
            model, name=MODEL_ARTIFACT_NAME, signature=signature, input_example=X_example.head(5),
            serialization_format="skops", skops_trusted_types=trusted,
            pip_requirements=pip_requirements(trusted),
        )
    run_id = run.info.run_id
    version = _register(client_for(config), model_name, info, run_id, run_tags)
    url = _run_url(config, run_id)
    return LoggedModel(run_id, model_uri(model_name, version), version, url)


def load_json_artifact(config: TrackingConfig, run_id: str, path: str) -> Any:
    """The JSON artifact ``path`` of run ``run_id`` (as logged through ``json_artifacts``).

    Raises
    ------
    FileNotFoundError
        When the run has no such artifact, naming the run and the path.
    """
    activate(config)
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError) as error:
        raise FileNotFoundError(
            f"run {run_id} has no artifact {path!r} at {redacted(config.tracking_uri)}: expected a run "
            "logged by log_training_run with that json_artifacts entry"
        ) from error


def run_url(config: TrackingConfig, run_id: str) -> str | None:
    """The run's page in the MLflow UI, or None when no UI address is known (see :class:`TrackingConfig`)."""
    return _run_url(config, run_id)
