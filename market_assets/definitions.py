"""The market_assets code location: assembles Definitions, computes nothing."""

import dagster as dg

from market_assets.defs.assets import diagnostics, features, labels, models, predictions, prices, regimes
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.jobs import JOBS
from market_assets.defs.resources import MlflowResource, OptunaResource, PriceSourceResource
from market_assets.defs.schedules import SCHEDULES
from market_assets.settings import load_settings

settings = load_settings()
modules = [prices, regimes, features, labels, diagnostics, models, predictions]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(modules),
    asset_checks=dg.load_asset_checks_from_modules(modules),
    jobs=JOBS,
    schedules=SCHEDULES,
    resources={
        "parquet_io_manager": PartitionedParquetIOManager(root=settings.data_root),
        "price_source": PriceSourceResource(
            kind=settings.source,
            symbols=list(settings.symbols) if settings.symbols else None,
            calendar=settings.calendar,
            # The embedded synthetic market demonstrates validation with a few defects
            # and gives models something to find: a planted signal of rank IC 0.1.
            defects=0.001 if settings.source == "synthetic" else 0.0,
            signal_strength=0.1 if settings.source == "synthetic" else 0.0,
        ),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root
        ),
        "optuna": OptunaResource(storage=settings.optuna_storage),
    },
)
