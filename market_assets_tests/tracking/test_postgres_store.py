"""Tracking and registry against the real PostgreSQL service (the production path)."""

from __future__ import annotations

import numpy as np
import pytest

from market_assets.quant.promotion import decide_promotion
from market_assets.tracking import (
    TrackingConfig,
    champion_version,
    load_model,
    promote_or_challenge,
    rollback_champion,
)
from market_assets_tests.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    scratch_postgres_database,
)

MODEL = "pg_model"


@pytest.mark.postgres
def test_tracking_and_registry_on_postgresql(tmp_path, log_ridge, features) -> None:
    with scratch_postgres_database("market_assets_mlflow") as database:
        config = TrackingConfig(
            tracking_uri=f"postgresql+psycopg2://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}",
            artifact_root=str(tmp_path / "artifacts"),
        )
        first, _ = log_ridge(config, MODEL, metrics={"ic": 0.02})
        second, second_model = log_ridge(config, MODEL, alpha=0.1, metrics={"ic": 0.04})
        first_decision = decide_promotion(0.02, None, margin=0.01)
        assert promote_or_challenge(config, MODEL, first.version, first_decision) == "champion"
        second_decision = decide_promotion(0.04, 0.02, margin=0.01)
        assert promote_or_challenge(config, MODEL, second.version, second_decision) == "champion"

        champion = champion_version(config, MODEL)
        assert (champion.version, champion.tags["previous_champion"]) == ("2", "1")
        assert champion.metrics == {"ic": 0.04}
        X = features[0]
        loaded = load_model(config, MODEL, "champion")
        np.testing.assert_array_equal(loaded.predict(X), second_model.predict(X))
        assert (tmp_path / "artifacts" / second.run_id / "artifacts" / "feature_importance").is_dir()
        assert rollback_champion(config, MODEL) == "1"
