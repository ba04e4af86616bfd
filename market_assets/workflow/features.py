"""The feature contract of a model version: which columns it takes, which must be non-null.

It is written once per training run as the JSON artifact
:data:`FEATURES_ARTIFACT` (hundreds of names do not belong in a tag) and
read back by whoever scores or compares the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from market_assets.tracking._session import TrackingConfig

#: Run artifact holding ``{"feature_columns": [...], "required_features": [...]}``.
FEATURES_ARTIFACT = "features.json"


def feature_contract(columns: Sequence[str], required: Sequence[str]) -> dict[str, list[str]]:
    """The content of :data:`FEATURES_ARTIFACT`: the input columns in order, and the non-null ones."""
    return {"feature_columns": list(columns), "required_features": list(required)}


def model_features(
    tracking: TrackingConfig, run_id: str | None, tags: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """(feature columns in order, required non-null columns) of the model logged by ``run_id``.

    Versions registered before the contract became an artifact carry it as
    the tags ``feature_columns`` / ``required_features``; those are read
    when present, so an older champion can still be scored and compared.

    Raises
    ------
    FileNotFoundError
        When the run has neither the artifact nor the tags.
    """
    if "feature_columns" in tags:
        columns = json.loads(tags["feature_columns"])
        return columns, json.loads(tags.get("required_features", json.dumps(columns)))
    if run_id is None:
        raise FileNotFoundError(
            "a model version without a run has no feature contract; expected a version logged by "
            "market_assets.workflow.training.train_period"
        )
    from market_assets.tracking.mlflow_store import load_json_artifact

    contract = load_json_artifact(tracking, run_id, FEATURES_ARTIFACT)
    return list(contract["feature_columns"]), list(contract["required_features"])
