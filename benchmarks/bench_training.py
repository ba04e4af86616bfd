"""One LightGBM training period through the trained_model asset vs a bare lgb.train.

On a synthetic market of 500 symbols × 2,520 sessions: features (the
feature_table set) and labels are computed and stored as session partitions,
then the asset trains the model of the week after the last label closed
(reading the store, purging, validating, logging to MLflow, registering), and
a bare ``lightgbm.train`` fits the same training matrix with the same
parameters.  Prints both times, their ratio (platform overhead; goal <= 1.2),
batch prediction rows/s through the predictions asset, and peak RSS.

    .venv/bin/python benchmarks/bench_training.py [--symbols 500] [--sessions 2520]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from market_assets.defs.assets.features import FEATURES
from market_assets.defs.assets.labels import HORIZONS
from market_assets.defs.assets.models import trained_model
from market_assets.defs.assets.predictions import predictions
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS
from market_assets.defs.resources import MlflowResource, OptunaResource


LIGHTGBM = {"model_name": "lightgbm", "horizon": 5}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def build_store(root: Path, symbols: int, sessions: int) -> list[dt.date]:
    """Compute features and labels of a synthetic market and store them by session."""
    from market_assets.quant.features import compute_features
    from market_assets.quant.labels import compute_labels
    from market_assets.sources import build_source

    keys = SESSIONS.get_partition_keys()[:sessions]
    days = [dt.date.fromisoformat(k) for k in keys]
    prices = build_source("synthetic", n_symbols=symbols, signal_strength=0.05).fetch(days[0], days[-1])
    started = time.perf_counter()
    features = compute_features(prices, features=FEATURES)
    labels = compute_labels(prices, horizons=HORIZONS)
    print(f"features + labels: {time.perf_counter() - started:.1f} s, {features.width - 2} features, "
          f"{features.height:,} rows")
    for asset, frame in (("feature_table", features), ("labels", labels)):
        (root / asset).mkdir(parents=True)
        for (day,), part in frame.partition_by("date", as_dict=True).items():
            part.write_parquet(root / asset / f"{day}.parquet")
    return days


def bare_lightgbm(root: Path, tracking_uri: str, week: str) -> float:
    """lgb.train on the training matrix the asset used, with the asset's parameters."""
    import lightgbm as lgb

    from market_assets.defs.assets.models import TrainingConfig
    from market_assets.quant.models import make_model
    from market_assets.quant.training import split_periods
    from market_assets.calendars import sessions_between

    spec = TrainingConfig(**LIGHTGBM).spec()
    io = PartitionedParquetIOManager(root=str(root))
    train_end = dt.date.fromisoformat(week)
    sessions = sessions_between("XNYS", dt.date(2016, 1, 4), train_end + dt.timedelta(days=60))
    keys = [s.isoformat() for s in sessions if s < train_end]
    features, _ = io.read_partitions(dg.AssetKey("feature_table"), keys, optional=keys)
    labels, _ = io.read_partitions(dg.AssetKey("labels"), keys, optional=keys)
    train, _ = split_periods(features, labels, spec, train_end, sessions)
    X, y = train.X.to_numpy(), train.y
    estimator = make_model(spec.model_name, spec.task, spec.params, spec.random_state).steps[-1][1]
    params = {**estimator.get_params(), "objective": "regression"}
    rounds = params.pop("n_estimators")
    params = {k: v for k, v in params.items() if v is not None and k not in ("importance_type", "class_weight")}
    started = time.perf_counter()
    lgb.train(params, lgb.Dataset(X, y, free_raw_data=False), num_boost_round=rounds)
    return time.perf_counter() - started


def batch_prediction(root: Path, mlflow: MlflowResource, days: list[dt.date]) -> None:
    """The champion scoring every stored feature row at once (model loaded from MLflow)."""
    from market_assets.tracking.mlflow_store import load_model

    io = PartitionedParquetIOManager(root=str(root))
    keys = [d.isoformat() for d in days]
    features, _ = io.read_partitions(dg.AssetKey("feature_table"), keys)
    model = load_model(mlflow.tracking(), "market_assets_regression_h5", "champion")
    X = features.drop("date", "symbol").to_pandas()
    started = time.perf_counter()
    model.predict(X)
    seconds = time.perf_counter() - started
    print(f"batch prediction, champion on all {len(X):,} rows: {seconds:.1f} s = {len(X) / seconds:,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        root = Path(tmp) / "data"
        days = build_store(root, args.symbols, args.sessions)
        week = (days[-1] - dt.timedelta(days=(days[-1].weekday() + 1) % 7)).isoformat()  # last Sunday
        resources = {
            "parquet_io_manager": PartitionedParquetIOManager(root=str(root)),
            "mlflow": MlflowResource(tracking_uri=f"sqlite:///{tmp}/mlflow.db"),
            "optuna": OptunaResource(storage=f"sqlite:///{tmp}/optuna.db"),
        }
        upstream = [dg.AssetSpec(n, partitions_def=SESSIONS).with_io_manager_key("parquet_io_manager")
                    for n in ("feature_table", "labels")]
        started = time.perf_counter()
        result = dg.materialize([*upstream, trained_model, predictions], selection=[trained_model],
                                partition_key=week, resources=resources, instance=instance,
                                run_config={"ops": {"trained_model": {"config": LIGHTGBM}}})
        asset_seconds = time.perf_counter() - started
        assert result.success
        bare_seconds = bare_lightgbm(root, resources["mlflow"].tracking_uri, week)
        print(f"trained_model asset (week {week}): {asset_seconds:8.1f} s")
        print(f"bare lgb.train, same matrix:       {bare_seconds:8.1f} s")
        print(f"platform overhead ratio: {asset_seconds / bare_seconds:.2f}  (goal <= 1.2)")
        last = [d for d in days if d >= dt.date.fromisoformat(week)] or days[-1:]
        started = time.perf_counter()
        result = dg.materialize(
            [*upstream, trained_model, predictions], selection=[predictions], resources=resources,
            instance=instance, run_config={"ops": {"predictions": {"config": {"horizons": [5]}}}},
            tags={"dagster/asset_partition_range_start": last[0].isoformat(),
                                     "dagster/asset_partition_range_end": last[-1].isoformat()},
        )
        seconds = time.perf_counter() - started
        assert result.success
        rows = pl.scan_parquet(f"{root}/predictions/*.parquet").select(pl.len()).collect().item()
        print(f"predictions asset: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s "
              f"(incl. loading the model and the feature partitions)")
        batch_prediction(root, resources["mlflow"], days)
    print(f"peak RSS: {peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
