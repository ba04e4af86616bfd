"""trained_model (walk-forward, MLflow registry) and predictions through Dagster."""

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl
import pytest

from market_assets.calendars import sessions_between
from market_assets.defs.assets.models import registered_model_name, trained_model
from market_assets.defs.assets.predictions import predictions
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS as SESSION_PARTITIONS
from market_assets.defs.resources import MlflowResource, OptunaResource
from market_assets.tracking.mlflow_store import TrackingConfig, champion_version

SESSIONS = sessions_between("XNYS", dt.date(2023, 1, 3), dt.date(2023, 12, 29))
SYMBOLS = [f"S{i:02d}" for i in range(25)]
WEEKS = ("2023-10-01", "2023-10-15")  # three weekly models
NAME = registered_model_name("regression", 5)
PREDICT_H5 = {"predictions": {"config": {"horizons": [5]}}}


def _write_store(root) -> None:
    """feature_table and labels partitions with a planted signal (rank IC ≈ 0.3)."""
    rng = np.random.default_rng(0)
    io = PartitionedParquetIOManager(root=str(root))
    for session in SESSIONS:
        signal = rng.standard_normal(len(SYMBOLS))
        target = 0.01 * (0.3 * signal + 0.95 * rng.standard_normal(len(SYMBOLS)))
        keys = {"date": [session] * len(SYMBOLS), "symbol": SYMBOLS}
        features = pl.DataFrame({**keys, "signal": signal, "std_20": rng.random(len(SYMBOLS)),
                                 "noise": rng.standard_normal(len(SYMBOLS))})
        labels = pl.DataFrame({**keys, "fwd_ret_5": target, "fwd_logret_5": np.log1p(target),
                               "fwd_dir_5": (target > 0).astype(float)})
        for asset, frame in (("feature_table", features), ("labels", labels)):
            path = root / asset / f"{session}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)
    assert io  # the store layout is the IO manager's: {root}/{asset}/{session}.parquet


@pytest.fixture
def setup(tmp_path):
    _write_store(tmp_path / "data")
    resources = {
        "parquet_io_manager": PartitionedParquetIOManager(root=str(tmp_path / "data")),
        "mlflow": MlflowResource(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"),
        "optuna": OptunaResource(storage=f"sqlite:///{tmp_path / 'optuna.db'}"),
    }
    with dg.instance_for_test() as instance:
        yield tmp_path, resources, instance


# The stored upstreams, read through the Parquet IO manager.
UPSTREAMS = [
    dg.AssetSpec(name, partitions_def=SESSION_PARTITIONS).with_io_manager_key("parquet_io_manager")
    for name in ("feature_table", "labels")
]


def _run(selection, resources, instance, start, end, config=None, **kwargs):
    return dg.materialize(
        [*UPSTREAMS, trained_model, predictions], selection=selection, resources=resources, instance=instance,
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        run_config={"ops": config or {}}, **kwargs,
    )


def test_a_walk_forward_trains_registers_and_promotes(setup):
    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40}}}
    result = _run([trained_model], resources, instance, *WEEKS, config)
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["weeks_trained"].value == 3
    assert 0.1 < metadata["validation_score"].value < 0.5  # rank IC of the planted signal
    champion = champion_version(TrackingConfig(tracking_uri=resources["mlflow"].tracking_uri), NAME)
    assert champion is not None and champion.tags["train_end"] <= WEEKS[1]
    assert champion.tags["dagster_run_id"] == result.run_id


def test_predictions_use_only_models_trained_before_each_session(setup):
    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40}}}
    assert _run([trained_model], resources, instance, *WEEKS, config).success
    result = _run([predictions], resources, instance, "2023-10-02", "2023-10-27", PREDICT_H5)
    assert result.success
    frame = pl.read_parquet(sorted((tmp_path / "data" / "predictions").glob("*.parquet")))
    assert frame.height == 20 * len(SYMBOLS)
    assert (frame["model_train_end"] <= frame["date"]).all()
    assert (frame["interval_low"] < frame["prediction"]).all() and (frame["prediction"] < frame["interval_high"]).all()
    assert frame["model_version"].str.starts_with(NAME).all()


def test_predictions_before_the_first_model_fail_clearly(setup):
    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40}}}
    assert _run([trained_model], resources, instance, *WEEKS, config).success
    result = _run([predictions], resources, instance, "2023-09-25", "2023-09-29", PREDICT_H5, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "was trained before 2023-09-25" in failure.event_specific_data.error.message


def test_tuning_runs_an_optuna_study_that_persists_and_resumes(setup):
    import optuna

    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40, "tuning_trials": 3}}}
    for _ in range(2):  # a second run of the same week resumes the same study
        assert _run([trained_model], resources, instance, WEEKS[0], WEEKS[0], config).success
    summaries = optuna.get_all_study_summaries(storage=resources["optuna"].storage)
    assert [s.study_name for s in summaries] == [f"{NAME}_ridge_{WEEKS[0]}"]
    assert summaries[0].n_trials == 6


def test_retraining_a_past_week_never_displaces_a_newer_champion(setup):
    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40}}}
    tracking = TrackingConfig(tracking_uri=resources["mlflow"].tracking_uri)
    assert _run([trained_model], resources, instance, WEEKS[1], WEEKS[1], config).success
    newest = champion_version(tracking, NAME)
    result = _run([trained_model], resources, instance, WEEKS[0], WEEKS[0], config)
    assert result.success
    assert champion_version(tracking, NAME).version == newest.version
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["alias"].value == "challenger"
    assert "newer champion" in metadata["decision"].value
