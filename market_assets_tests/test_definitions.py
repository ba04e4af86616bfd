"""The code location loads, quickly, without the heavy libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg

from market_assets.defs.resources import MlflowResource, from_environment
from market_assets.settings import load_settings

HEAVY = ("mlflow", "evidently", "great_expectations", "optuna", "xgboost", "lightgbm")


def test_definitions_load():
    from market_assets.definitions import defs

    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {"raw_prices", "validated_prices", "price_rejections"} <= keys


def test_loading_the_code_location_imports_no_heavy_library():
    code = (
        "import sys, json; import market_assets.definitions; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_asset_and_check_describes_itself():
    from market_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key.to_user_string()} has no description"
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        assert spec.description, f"check {check_key.name} has no description"


SNAPSHOT_FACTS = """
import json
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from market_assets.definitions import defs
job = defs.resolve_implicit_global_asset_job_def()
fields = job.run_config_schema.config_type.fields["resources"].config_type.fields
snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
print(json.dumps({
    "mlflow": fields["mlflow"].config_type.fields["config"].default_value,
    "optuna": fields["optuna"].config_type.fields["config"].default_value,
    "price_source": fields["price_source"].config_type.fields["config"].default_value,
    "secret_in_snapshot": "TopSecretPw" in snapshot,
}))
"""


def _snapshot_facts(**environ: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_ASSETS_")} | environ
    out = subprocess.run([sys.executable, "-c", SNAPSHOT_FACTS], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_urls_that_may_hold_credentials_reach_the_launchpad_as_env_vars() -> None:
    facts = _snapshot_facts(
        MARKET_ASSETS_MLFLOW_URI="postgresql+psycopg2://mlflow:TopSecretPw@db.internal/mlflow",
        MARKET_ASSETS_MLFLOW_ARTIFACTS="s3://models/mlflow",
        MARKET_ASSETS_OPTUNA_URL="postgresql+psycopg2://optuna:TopSecretPw@db.internal/optuna",
        MARKET_ASSETS_MLFLOW_UI_URL="https://mlflow.internal",
    )
    assert facts["mlflow"]["tracking_uri"] == {"env": "MARKET_ASSETS_MLFLOW_URI"}
    assert facts["mlflow"]["ui_url"] == "https://mlflow.internal"
    assert facts["optuna"]["storage"] == {"env": "MARKET_ASSETS_OPTUNA_URL"}
    assert facts["secret_in_snapshot"] is False  # nothing the webserver receives holds the password


def test_unset_variables_keep_the_local_defaults_and_the_deployments_source() -> None:
    facts = _snapshot_facts(MARKET_ASSETS_SOURCE="bundled", MARKET_ASSETS_SYMBOLS="AAPL,^GSPC")
    assert facts["mlflow"]["tracking_uri"].startswith("sqlite:///")
    assert facts["optuna"]["storage"].startswith("sqlite:///")
    assert facts["price_source"]["kind"] == "bundled" and facts["price_source"]["symbols"] == ["AAPL", "^GSPC"]


def test_the_price_source_is_the_settings_deployment() -> None:
    from market_assets.definitions import defs, settings

    assert defs.resources["price_source"].deployment == settings.price_source


def test_an_env_var_resource_reads_the_variable_when_the_run_starts(monkeypatch) -> None:
    monkeypatch.setenv("MARKET_ASSETS_MLFLOW_URI", "https://mlflow.example")
    settings = load_settings()
    uri = from_environment(settings, "MARKET_ASSETS_MLFLOW_URI", settings.mlflow_tracking_uri)
    assert isinstance(uri, dg.EnvVar)
    seen: list[str] = []

    @dg.asset
    def tracked(mlflow: MlflowResource) -> None:
        seen.append(mlflow.tracking_uri)

    with dg.instance_for_test() as instance:  # a held instance: an implicit ephemeral one can be collected mid-run
        assert dg.materialize([tracked], resources={"mlflow": MlflowResource(tracking_uri=uri)},
                              instance=instance).success
    assert seen == ["https://mlflow.example"]
