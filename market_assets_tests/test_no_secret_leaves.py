"""No secret leaves: a value planted in every environment variable a run could name is found nowhere.

Every variable the deployment reads or names (``settings.VARIABLES``, each
``MARKET_ASSETS_*`` / ``DAGSTER_PG_*`` name in the package, ``deploy/`` and
``dagster.yaml``) and the usual credential variables get a distinct secret
value; the variables the run needs as configuration get valid values that
carry a secret where their format can (``https://viewer:<secret>@host``).  A
small pipeline then runs: raw_prices → validated_prices/price_rejections,
market_regimes and a feature_table subset, labels, then a weekly
trained_model (MLflow on a tmp SQLite store) and predictions.  :func:`find_leaks` scans

* the event log: every event and run record of the instance, serialized;
* every file under the instance's directory (compute logs, SQLite storage);
* the Parquet files under the data root: key-value metadata and bytes;
* MLflow: every run's params, tags and metric names, registered model
  versions, and every artifact file;
* what the test process logged and printed.

The scanner is itself tested to fail on a planted leak (a hook that logs a
variable, Parquet metadata, an MLflow param).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
CREDENTIALS = (
    "ALPHA_VANTAGE_API_KEY", "DAGSTER_PG_PASSWORD", "PGPASSWORD", "DATABASE_URL", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
)  # not MLFLOW_TRACKING_USERNAME: an identity, which MLflow records as the run's mlflow.user by design
#: The synthetic deployment refuses these (they configure other sources): left unset.
NOT_FOR_SYNTHETIC = ("MARKET_ASSETS_SYMBOLS", "MARKET_ASSETS_SOURCE_BASE_URL", "MARKET_ASSETS_SOURCE_DIRECTORY")
FEATURES = ["ret_log_1", "sma_20", "rsi_14", "std_20", "cs_rank_ret_1"]
PRICES = ("2023-01-03", "2023-10-31")
FEATURES_FROM, LABELLED_TO = "2023-03-01", "2023-10-02"
WEEK = "2023-10-01"
PREDICTED = ("2023-10-02", "2023-10-06")


def nameable_variables() -> list[str]:
    """Every environment variable the code, the deployment files or a credential convention name."""
    from market_assets.settings import VARIABLES

    pattern = re.compile(r"\b(?:MARKET_ASSETS|DAGSTER_PG)_[A-Z0-9_]*[A-Z0-9]\b")
    names = set(VARIABLES) | set(CREDENTIALS)
    for path in [*REPO.joinpath("market_assets").rglob("*.py"), *REPO.joinpath("deploy").rglob("*"),
                 REPO / "dagster.yaml", REPO / "Makefile"]:
        if path.is_file():
            names |= set(pattern.findall(path.read_text(errors="ignore")))
    return sorted(names)


@dataclass(frozen=True)
class Planted:
    secrets: dict[str, str]  # variable -> the secret value it holds (or carries)
    data_root: Path
    mlflow_uri: str
    artifacts: Path


def plant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Planted:
    """Set every nameable variable: a secret, or a valid value carrying one, or unset (see the module)."""
    token = secrets.token_hex(4)
    values = {name: f"Leak{i:02d}z{token}" for i, name in enumerate(nameable_variables())}
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = {
        "MARKET_ASSETS_ENV": "test", "MARKET_ASSETS_DATA_ROOT": str(tmp_path / "data"),
        "MARKET_ASSETS_CALENDAR": "XNYS", "MARKET_ASSETS_START": "2016-01-04", "MARKET_ASSETS_SOURCE": "synthetic",
        "MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV": "ALPHA_VANTAGE_API_KEY", "MARKET_ASSETS_MLFLOW_URI": mlflow_uri,
        "MARKET_ASSETS_MLFLOW_ARTIFACTS": str(tmp_path / "artifacts"),
        "MARKET_ASSETS_CACHE_DIR": str(tmp_path / "cache"), "MARKET_ASSETS_FRESHNESS_DEADLINE": "30 20 * * 1-5",
        "MARKET_ASSETS_TAG": "test",
        # links are built without the URL's credentials: test_mlflow_links_never_carry_a_password below
        "MARKET_ASSETS_MLFLOW_UI_URL": "https://mlflow.example/",
    }
    carriers = {  # valid values with a credential inside
        "MARKET_ASSETS_UI_URL": "https://viewer:{}@dagster.example/",
        "MARKET_ASSETS_ALERT_WEBHOOK_URL": "https://hooks.example/services/{}",
        "MARKET_ASSETS_OPTUNA_URL": "postgresql+psycopg2://optuna:{}@127.0.0.1:9/optuna",
        "MARKET_ASSETS_CELERY_BROKER": "redis://:{}@127.0.0.1:9/0",
        "MARKET_ASSETS_CELERY_BACKEND": "redis://:{}@127.0.0.1:9/1",
    }
    planted: dict[str, str] = {}
    for name, secret in values.items():
        if name in NOT_FOR_SYNTHETIC:
            monkeypatch.delenv(name, raising=False)
        elif name in config:
            monkeypatch.setenv(name, config[name])
        else:
            monkeypatch.setenv(name, carriers[name].format(secret) if name in carriers else secret)
            planted[name] = secret
    return Planted(planted, tmp_path / "data", mlflow_uri, tmp_path / "artifacts")


# ---- the scanner -------------------------------------------------------------------------------


def _hits(text: str, planted: dict[str, str], where: str) -> list[tuple[str, str]]:
    return [(where, name) for name, secret in planted.items() if secret in text]


def _file_hits(path: Path, planted: dict[str, str], where: str) -> list[tuple[str, str]]:
    data = path.read_bytes()
    return [(f"{where}: {path.name}", name) for name, secret in planted.items() if secret.encode() in data]


def find_leaks(planted: Planted, instance: dg.DagsterInstance, captured: str = "") -> list[tuple[str, str]]:
    """(where, variable) for every place a planted secret was found; empty when none leaked."""
    import mlflow.tracking
    import pyarrow.parquet as pq
    from dagster._serdes import serialize_value

    found: list[tuple[str, str]] = []
    for run in instance.get_runs():
        found += _hits(serialize_value(run), planted.secrets, f"run record {run.run_id}")
        for event in instance.all_logs(run.run_id):
            found += _hits(serialize_value(event), planted.secrets, f"event {event.dagster_event_type}")
    for key in instance.get_asset_keys():  # runless events (reported materializations) too
        for record in instance.fetch_materializations(key, limit=10_000).records:
            found += _hits(serialize_value(record.event_log_entry), planted.secrets, f"materialization of {key}")
    for path in Path(instance.root_directory).rglob("*"):  # compute logs, SQLite storages
        if path.is_file():
            found += _file_hits(path, planted.secrets, "instance file")
    for path in planted.data_root.rglob("*.parquet"):
        metadata = pq.read_metadata(path).metadata or {}
        text = " ".join(f"{k!r}={v!r}" for k, v in metadata.items())
        found += _hits(text, planted.secrets, f"Parquet metadata {path.name}")
        found += _file_hits(path, planted.secrets, "Parquet file")
    client = mlflow.tracking.MlflowClient(planted.mlflow_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    for run in client.search_runs(experiments) if experiments else []:
        text = repr((run.data.params, run.data.tags, sorted(run.data.metrics), run.info))
        found += _hits(text, planted.secrets, f"MLflow run {run.info.run_id}")
    for version in client.search_model_versions():
        found += _hits(repr((version.tags, version.description, version.source)), planted.secrets, "model version")
    if planted.artifacts.exists():
        for path in planted.artifacts.rglob("*"):
            if path.is_file():
                found += _file_hits(path, planted.secrets, "MLflow artifact")
    found += _hits(captured, planted.secrets, "test process output")
    return found


# ---- the pipeline ------------------------------------------------------------------------------


def _resources(planted: Planted) -> dict:
    """The code location's resources as ``definitions.py`` builds them from the planted settings."""
    from market_assets.defs.io_manager import PartitionedParquetIOManager
    from market_assets.defs.resources import MlflowResource, OptunaResource, PriceSourceResource, from_environment
    from market_assets.settings import load_settings

    settings = load_settings()
    assert settings.data_root == str(planted.data_root)
    return {
        "parquet_io_manager": PartitionedParquetIOManager(root=settings.data_root),
        "price_source": PriceSourceResource(n_symbols=12, defects=0.002, signal_strength=0.2),
        "mlflow": MlflowResource(
            tracking_uri=from_environment(settings, "MARKET_ASSETS_MLFLOW_URI", settings.mlflow_tracking_uri),
            artifact_root=settings.mlflow_artifact_root, ui_url=settings.mlflow_ui_url,
        ),
        "optuna": OptunaResource(storage=from_environment(settings, "MARKET_ASSETS_OPTUNA_URL", settings.optuna_storage)),
    }


def run_pipeline(planted: Planted, instance: dg.DagsterInstance) -> None:
    from market_assets.defs.assets.features import build_feature_table
    from market_assets.defs.assets.labels import labels
    from market_assets.defs.assets.models import trained_model
    from market_assets.defs.assets.predictions import predictions
    from market_assets.defs.assets.prices import raw_prices, validate_prices_step
    from market_assets.defs.assets.regimes import market_regimes

    feature_table = build_feature_table(FEATURES)
    daily = [raw_prices, validate_prices_step, market_regimes, feature_table, labels]
    resources = _resources(planted)

    def materialize(selection, start, end, ops=None):
        result = dg.materialize(
            [*daily, trained_model, predictions], selection=selection, instance=instance, resources=resources,
            tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
            run_config={"ops": ops or {}},
        )
        assert result.success

    materialize([raw_prices, validate_prices_step], *PRICES)
    materialize([market_regimes, feature_table], FEATURES_FROM, PREDICTED[1])
    materialize([labels], FEATURES_FROM, LABELLED_TO)  # labels need the 20 sessions after them
    materialize([trained_model], WEEK, WEEK,
                {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40}}})
    materialize([predictions], *PREDICTED, {"predictions": {"config": {"horizons": [5]}}})


@pytest.mark.slow
def test_no_planted_secret_reaches_events_logs_parquet_or_mlflow(monkeypatch, tmp_path, capfd, caplog):
    planted = plant(monkeypatch, tmp_path)
    assert len(planted.secrets) >= 15 and "DAGSTER_PG_PASSWORD" in planted.secrets
    with dg.instance_for_test() as instance:
        run_pipeline(planted, instance)
        assert list(planted.data_root.glob("predictions/*.parquet")), "the pipeline ran to the predictions"
        captured = capfd.readouterr()
        leaks = find_leaks(planted, instance, captured.out + captured.err + caplog.text)
    assert leaks == []


# ---- the scanner fails on a leak (fast) -------------------------------------------------------


@pytest.fixture
def scanned(monkeypatch, tmp_path):
    planted = plant(monkeypatch, tmp_path)
    planted.data_root.mkdir(parents=True)
    with dg.instance_for_test() as instance:
        yield planted, instance


def test_a_hook_that_logs_a_variable_is_caught(scanned):
    import os

    planted, instance = scanned

    @dg.asset
    def careless(context) -> None:
        """Logs the database password, as a debugging hook might."""
        context.log.info(f"connecting with {os.environ['DAGSTER_PG_PASSWORD']}")

    assert dg.materialize([careless], instance=instance).success
    assert {name for _, name in find_leaks(planted, instance)} == {"DAGSTER_PG_PASSWORD"}


def test_parquet_metadata_and_mlflow_params_are_scanned(scanned):
    import mlflow
    import pyarrow as pa
    import pyarrow.parquet as pq

    planted, instance = scanned
    table = pa.table({"date": [1]}).replace_schema_metadata({"note": planted.secrets["ALPHA_VANTAGE_API_KEY"]})
    pq.write_table(table, planted.data_root / "2024-01-02.parquet")
    mlflow.set_tracking_uri(planted.mlflow_uri)
    with mlflow.start_run():
        mlflow.log_param("token", planted.secrets["AWS_SECRET_ACCESS_KEY"])
    mlflow.set_tracking_uri(None)
    where = {(place.split(" ")[0], name) for place, name in find_leaks(planted, instance)}
    assert ("Parquet", "ALPHA_VANTAGE_API_KEY") in where and ("MLflow", "AWS_SECRET_ACCESS_KEY") in where


def test_every_kind_of_variable_holds_a_secret(monkeypatch, tmp_path):
    import os

    planted = plant(monkeypatch, tmp_path)
    names = nameable_variables()
    assert {"MARKET_ASSETS_OPTUNA_URL", "MARKET_ASSETS_UI_URL", "ALPHA_VANTAGE_API_KEY",
            "DAGSTER_PG_PASSWORD", "DAGSTER_PG_USER"} <= set(planted.secrets)
    assert all(planted.secrets[n] in os.environ[n] for n in planted.secrets)
    assert set(names) - set(planted.secrets) <= {*NOT_FOR_SYNTHETIC, "MARKET_ASSETS_ENV", "MARKET_ASSETS_DATA_ROOT",
                                                 "MARKET_ASSETS_CALENDAR", "MARKET_ASSETS_START", "MARKET_ASSETS_SOURCE",
                                                 "MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV", "MARKET_ASSETS_MLFLOW_URI",
                                                 "MARKET_ASSETS_MLFLOW_ARTIFACTS", "MARKET_ASSETS_CACHE_DIR",
                                                 "MARKET_ASSETS_FRESHNESS_DEADLINE", "MARKET_ASSETS_TAG",
                                                 "MARKET_ASSETS_MLFLOW_UI_URL"}


def test_run_config_cannot_read_a_secret_into_an_error_message(scanned, tmp_path):
    from market_assets.defs.assets.prices import raw_prices
    from market_assets.defs.io_manager import PartitionedParquetIOManager
    from market_assets.defs.resources import PriceSourceResource

    planted, instance = scanned
    for field in ("calendar", "start"):
        dg.materialize(
            [raw_prices], instance=instance, partition_key="2024-01-03", raise_on_error=False,
            resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(planted.data_root)),
                       "price_source": PriceSourceResource(kind="synthetic", n_symbols=3)},
            run_config={"resources": {"price_source": {"config": {field: {"env": "DAGSTER_PG_PASSWORD"}}}}},
        )
    assert find_leaks(planted, instance) == []


@pytest.mark.parametrize("where", ["ui_url", "tracking_uri"])
def test_mlflow_links_never_carry_a_password(tmp_path, monkeypatch, where):
    from market_assets.tracking import mlflow_store

    secret = f"Leak{secrets.token_hex(4)}"
    monkeypatch.setattr(mlflow_store, "experiment_id", lambda config: "1")  # no server to ask
    url = f"https://viewer:{secret}@mlflow.example/"
    config = (mlflow_store.TrackingConfig(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", ui_url=url)
              if where == "ui_url" else mlflow_store.TrackingConfig(tracking_uri=url))
    assert secret not in (mlflow_store.run_url(config, "0123abcd") or "")
