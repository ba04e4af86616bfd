"""The market_assets code location: assembles Definitions, computes nothing."""

import dagster as dg

from market_assets.defs.assets import (
    backtests, diagnostics, features, labels, models, monitoring, predictions, prices, regimes, retraining,
)
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.jobs import JOBS
from market_assets.defs.resources import MlflowResource, OptunaResource, PriceSourceResource, from_environment
from market_assets.defs.schedules import SCHEDULES
from market_assets.defs.alerts import ALERT_SENSORS
from market_assets.defs.checks.freshness import FRESHNESS_CHECKS, freshness_sensor
from market_assets.defs.executors import deployment_executor
from market_assets.defs.sensors import SENSORS
from market_assets.settings import load_settings

settings = load_settings()
modules = [prices, regimes, features, labels, diagnostics, models, retraining, predictions, monitoring, backtests]

defs = dg.Definitions(
    executor=deployment_executor(settings),
    assets=dg.load_assets_from_modules(modules),
    asset_checks=[*dg.load_asset_checks_from_modules(modules), *FRESHNESS_CHECKS],
    jobs=[*JOBS, *backtests.BACKTEST_JOBS],
    schedules=SCHEDULES,
    sensors=[*SENSORS, *ALERT_SENSORS, freshness_sensor],
    resources={
        "parquet_io_manager": PartitionedParquetIOManager(root=settings.data_root),
        "price_source": PriceSourceResource.from_deployment(settings.price_source),
        "mlflow": MlflowResource(
            tracking_uri=from_environment(settings, "MARKET_ASSETS_MLFLOW_URI", settings.mlflow_tracking_uri),
            artifact_root=settings.mlflow_artifact_root,
            ui_url=settings.mlflow_ui_url,
        ),
        "optuna": OptunaResource(
            storage=from_environment(settings, "MARKET_ASSETS_OPTUNA_URL", settings.optuna_storage)
        ),
    },
)
