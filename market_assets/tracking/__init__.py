"""MLflow tracking and model registry (mlflow is imported lazily, inside functions).

The pure promotion rule is :mod:`market_assets.quant.promotion`; this package
applies its decisions to the registry.  See :mod:`market_assets.tracking.mlflow_store`.
"""

from market_assets.tracking.mlflow_store import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION_TAG,
    LoggedModel,
    ModelVersionInfo,
    NothingToRollBackError,
    TrackingConfig,
    champion_version,
    load_json_artifact,
    load_model,
    model_aliases,
    local_tracking_config,
    log_training_run,
    model_uri,
    model_version_tags,
    promote_or_challenge,
    rollback_champion,
    run_url,
    set_alias,
    tracking_uri_for,
)

__all__ = [
    "CHALLENGER", "CHAMPION", "PREVIOUS_CHAMPION_TAG", "LoggedModel", "ModelVersionInfo",
    "NothingToRollBackError", "TrackingConfig", "champion_version", "load_json_artifact", "load_model",
    "local_tracking_config", "log_training_run", "model_aliases", "model_uri", "model_version_tags",
    "promote_or_challenge", "rollback_champion", "run_url", "set_alias", "tracking_uri_for",
]
