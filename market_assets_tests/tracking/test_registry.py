"""Champion / challenger aliases, promotion, rollback and its CLI, in a local store."""

from __future__ import annotations

import numpy as np
import pytest

from market_assets.quant.promotion import decide_promotion
from market_assets.tracking import (
    NothingToRollBackError,
    TrackingConfig,
    champion_version,
    load_model,
    model_aliases,
    model_version_tags,
    promote_or_challenge,
    rollback_champion,
    set_alias,
)
from market_assets.tracking.rollback import main as rollback_main

MARGIN = 0.01


def _challenge(store: TrackingConfig, name: str, version: str, score: float) -> str:
    """Decide against the current champion's ``ic`` and apply the decision."""
    champion = champion_version(store, name)
    decision = decide_promotion(score, None if champion is None else champion.metrics["ic"], margin=MARGIN)
    return promote_or_challenge(store, name, version, decision)


def test_first_becomes_champion_worse_stays_challenger_better_takes_over(store, log_ridge, features) -> None:
    name = "promotion_flow"
    first, first_model = log_ridge(store, name, metrics={"ic": 0.030})
    assert champion_version(store, name) is None
    assert _challenge(store, name, first.version, 0.030) == "champion"
    assert "previous_champion" not in model_version_tags(store, name, first.version)

    second, _ = log_ridge(store, name, alpha=5.0, metrics={"ic": 0.035})  # +0.005 < margin
    assert _challenge(store, name, second.version, 0.035) == "challenger"
    assert model_aliases(store, name) == {"champion": first.version, "challenger": second.version}
    assert "does not beat margin 0.01" in model_version_tags(store, name, second.version)["promotion_reason"]

    third, third_model = log_ridge(store, name, alpha=0.1, metrics={"ic": 0.050})
    assert _challenge(store, name, third.version, 0.050) == "champion"
    champion = champion_version(store, name)
    assert (champion.version, champion.run_id) == (third.version, third.run_id)
    assert champion.metrics == {"ic": 0.050}
    assert champion.tags["previous_champion"] == first.version
    assert champion.tags["promotion_champion_score"] == "0.03"
    assert champion.tags["dagster/partition"] == "2024-01-01"
    X = features[0]
    np.testing.assert_array_equal(load_model(store, name, "champion").predict(X), third_model.predict(X))
    np.testing.assert_array_equal(load_model(store, name, first.version).predict(X), first_model.predict(X))


def test_rollback_walks_the_previous_champion_chain_then_stops(store, log_ridge) -> None:
    name = "rollback_chain"
    versions = [log_ridge(store, name, metrics={"ic": ic})[0].version for ic in (0.01, 0.03, 0.05)]
    for version, ic in zip(versions, (0.01, 0.03, 0.05), strict=True):
        assert _challenge(store, name, version, ic) == "champion"

    assert rollback_champion(store, name) == versions[1]
    assert model_version_tags(store, name, versions[2])["rolled_back_to"] == versions[1]
    assert rollback_champion(store, name) == versions[0]
    assert champion_version(store, name).version == versions[0]
    with pytest.raises(NothingToRollBackError, match=rf"champion version {versions[0]} .* first champion"):
        rollback_champion(store, name)
    assert champion_version(store, name).version == versions[0]


def test_rollback_without_champion_or_model_errors_clearly(store) -> None:
    assert champion_version(store, "never_registered") is None
    with pytest.raises(NothingToRollBackError, match=r"'never_registered' has no 'champion' alias"):
        rollback_champion(store, "never_registered")


def test_set_alias_moves_an_alias(store, log_ridge) -> None:
    name = "manual_alias"
    first, _ = log_ridge(store, name)
    second, _ = log_ridge(store, name)
    set_alias(store, name, "champion", first.version)
    set_alias(store, name, "champion", second.version)
    assert model_aliases(store, name) == {"champion": second.version}


def test_rollback_cli_prints_before_and_after(store, log_ridge, capsys) -> None:
    name = "cli_model"
    for ic in (0.01, 0.03):
        logged, _ = log_ridge(store, name, metrics={"ic": ic})
        _challenge(store, name, logged.version, ic)

    assert rollback_main(["--model", name, "--tracking-uri", store.tracking_uri]) == 0
    out = capsys.readouterr().out
    assert "champion before: version 2" in out and "champion after:  version 1" in out

    assert rollback_main(["--model", name, "--tracking-uri", store.tracking_uri]) == 1
    captured = capsys.readouterr()
    assert "champion before: version 1" in captured.out
    assert "rollback failed: champion version 1" in captured.err


def test_rollback_cli_refuses_a_missing_database(tmp_path, capsys) -> None:
    uri = f"sqlite:///{tmp_path}/absent/mlflow.db"
    assert rollback_main(["--model", "m", "--tracking-uri", uri]) == 1
    assert "no MLflow database at" in capsys.readouterr().err
    assert not (tmp_path / "absent").exists()
