"""trained_model (walk-forward, MLflow registry) and predictions through Dagster."""

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl
import pytest

from market_assets.calendars import sessions_between
from market_assets.defs.assets.models import (
    TRAINING_HISTORY,
    TrainingConfig,
    declared_sessions,
    registered_model_name,
    trained_model,
)
from market_assets.defs.assets.predictions import CHAMPION_LOOKBACK_SESSIONS, predictions
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import MODEL_PERIODS
from market_assets.defs.partitions import SESSIONS as SESSION_PARTITIONS
from market_assets.defs.resources import MlflowResource, OptunaResource
from market_assets.quant.training import TrainingSpec
from market_assets.tracking._session import client_for
from market_assets.tracking.history import champion_for, champion_history
from market_assets.tracking.mlflow_store import TrackingConfig, champion_version, model_aliases
from market_assets.workflow.training import TrainingOptions

SESSIONS = sessions_between("XNYS", dt.date(2023, 1, 3), dt.date(2023, 12, 29))
SYMBOLS = [f"S{i:02d}" for i in range(25)]
WEEKS = ("2023-10-01", "2023-10-15")  # three weekly models
WEEK_KEYS = ["2023-10-01", "2023-10-08", "2023-10-15"]
NAME = registered_model_name("regression", 5)
RIDGE_H5 = {"trained_model": {"config": {"model_name": "ridge", "horizon": 5, "validation_sessions": 40}}}
PREDICT_H5 = {"predictions": {"config": {"horizons": [5]}}}
MLFLOW_UI = "http://127.0.0.1:5000"  # links in metadata point here


def _write_store(root) -> None:
    """feature_table and labels partitions with a planted signal (rank IC ≈ 0.3), in the IO manager's layout."""
    rng = np.random.default_rng(0)
    written = {"feature_table": [], "labels": []}
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
            written[asset].append(frame)
    # The files are where the IO manager looks for them: it reads back exactly what was written.
    store = PartitionedParquetIOManager(root=str(root))
    for asset, frames in written.items():
        read, missing = store.read_partitions(dg.AssetKey(asset), [s.isoformat() for s in SESSIONS])
        assert missing == []
        assert read.equals(pl.concat(frames))


@pytest.fixture
def setup(tmp_path):
    _write_store(tmp_path / "data")
    resources = {
        "parquet_io_manager": PartitionedParquetIOManager(root=str(tmp_path / "data")),
        "mlflow": MlflowResource(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", ui_url=MLFLOW_UI),
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


def _by_partition(result) -> dict[str, dict]:
    """Each materialized partition's metadata, as plain values."""
    return {
        event.partition: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


def _upstream_keys(asset, upstream: str, downstream_def, upstream_def, key: str) -> list[str]:
    """The upstream partitions ``asset``'s partition ``key`` declares, as Dagster computes them."""
    mapping = asset.get_partition_mapping(dg.AssetKey(upstream))
    result = mapping.get_upstream_mapped_partitions_result_for_partitions(
        downstream_def.subset_with_partition_keys([key]), downstream_def, upstream_def,
        current_time=dt.datetime(2026, 1, 15),
    )
    return sorted(result.partitions_subset.get_partition_keys())


# ---- configuration and lineage (fast) ---------------------------------------------------------

def test_the_dagster_config_defaults_are_the_training_spec_defaults():
    assert TrainingConfig().spec() == TrainingSpec()
    assert TrainingConfig().options() == TrainingOptions()
    assert (TrainingSpec().model_name, TrainingSpec().horizon) == ("ridge", 1)  # the documented default


@pytest.mark.parametrize("upstream", ["feature_table", "labels"])
def test_week_w_reads_every_session_before_w_and_none_from_w_on(upstream):
    week = "2025-11-02"  # a Sunday; its sessions start on Monday 2025-11-03
    keys = _upstream_keys(trained_model, upstream, MODEL_PERIODS, SESSION_PARTITIONS, week)
    assert keys[-1] == "2025-10-31"  # the last session before W
    assert all(key < week for key in keys)
    assert keys[0] == SESSION_PARTITIONS.get_first_partition_key()  # expanding from the first session
    assert (keys[0], keys[-1]) == tuple(d.isoformat() for d in declared_sessions(week))
    assert isinstance(trained_model.get_partition_mapping(dg.AssetKey(upstream)), type(TRAINING_HISTORY))


def test_the_first_week_reads_the_year_before_it():
    first = MODEL_PERIODS.get_first_partition_key()
    keys = _upstream_keys(trained_model, "labels", MODEL_PERIODS, SESSION_PARTITIONS, first)
    assert keys[-1] < first and len(keys) > 240


def test_a_session_depends_on_the_model_weeks_up_to_its_own():
    keys = _upstream_keys(predictions, "trained_model", SESSION_PARTITIONS, MODEL_PERIODS, "2025-11-05")
    assert keys[-1] == "2025-11-02"  # the week containing the session, trained before it
    assert keys[0] == MODEL_PERIODS.get_first_partition_key()
    assert CHAMPION_LOOKBACK_SESSIONS >= 5 * 52 * 8  # decades, not a short sliding window


# ---- materializations (slow) --------------------------------------------------------------------

@pytest.mark.slow
def test_each_week_of_a_walk_forward_carries_its_own_version_alias_and_run(setup):
    tmp_path, resources, instance = setup
    result = _run([trained_model], resources, instance, *WEEKS, RIDGE_H5)
    assert result.success
    weeks = _by_partition(result)
    assert sorted(weeks) == WEEK_KEYS
    tracking = TrackingConfig(tracking_uri=resources["mlflow"].tracking_uri)
    client = client_for(tracking)
    versions = {v.tags["partition"]: v for v in client.search_model_versions(f"name = '{NAME}'")}
    assert len({metadata["model_version"] for metadata in weeks.values()}) == 3
    for week, metadata in weeks.items():
        version = versions[week]
        assert str(metadata["model_version"]) == str(version.version)
        assert metadata["alias"] == version.tags["promotion_alias"]
        assert metadata["mlflow_run_id"] == version.run_id
        assert metadata["mlflow_run"].startswith(MLFLOW_UI) and metadata["mlflow_run"].endswith(f"/runs/{version.run_id}")
        run = client.get_run(version.run_id)
        assert run.info.run_name == metadata["mlflow_run_name"] == f"ridge h5 week {week}"
        assert metadata["chosen_alpha"] == run.data.metrics["alpha_"] == float(run.data.params["alpha_"])
        assert run.data.tags["train_end"] == metadata["cut_off"] == week
        assert 0.1 < metadata["validation_score"] < 0.5  # rank IC of the planted signal
        assert metadata["last_validation_label_end"] < week
        assert metadata["last_training_label_end"] < metadata["validation_window"].split(" … ")[0]
    aliases = model_aliases(tracking, NAME)
    champion_weeks = [w for w, m in weeks.items() if m["alias"] == "champion"]
    assert aliases["champion"] == str(weeks[champion_weeks[-1]]["model_version"])
    assert champion_version(tracking, NAME).tags["dagster_run_id"] == result.run_id
    assert weeks["2023-10-01"]["alias"] == "champion"  # the first model has no one to beat


@pytest.mark.slow
def test_a_run_logs_hyperparameters_with_defaults_and_the_feature_list_as_an_artifact(setup):
    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {**RIDGE_H5["trained_model"]["config"], "params_json": '{"alpha": 3.0}'}}}
    assert _run([trained_model], resources, instance, WEEKS[0], WEEKS[0], config).success
    tracking = TrackingConfig(tracking_uri=resources["mlflow"].tracking_uri)
    client = client_for(tracking)
    (version,) = client.search_model_versions(f"name = '{NAME}'")
    run = client.get_run(version.run_id)
    assert run.data.params["alpha"] == "3.0"  # given
    assert run.data.params["fit_intercept"] == "True"  # Ridge's default, as used
    assert run.data.params["horizon"] == "5" and run.data.params["embargo"] == "5"
    assert "feature_columns" not in run.data.tags
    from market_assets.tracking.mlflow_store import load_json_artifact

    contract = load_json_artifact(tracking, version.run_id, "features.json")
    assert contract["feature_columns"] == ["signal", "std_20", "noise"]


@pytest.mark.slow
def test_each_session_of_a_prediction_range_carries_its_own_metadata(setup):
    tmp_path, resources, instance = setup
    assert _run([trained_model], resources, instance, *WEEKS, RIDGE_H5).success
    result = _run([predictions], resources, instance, "2023-10-02", "2023-10-27", PREDICT_H5)
    assert result.success
    sessions = _by_partition(result)
    assert len(sessions) == 20
    frame = pl.read_parquet(sorted((tmp_path / "data" / "predictions").glob("*.parquet")))
    history = champion_history(TrackingConfig(tracking_uri=resources["mlflow"].tracking_uri), NAME)
    for key, metadata in sessions.items():
        day = dt.date.fromisoformat(key)
        rows = frame.filter(pl.col("date") == day)
        assert metadata["rows"] == rows.height == len(SYMBOLS)
        assert metadata["model_versions"] == f"{NAME}/{champion_for(history, day).version}"
        assert metadata["mean_prediction"] == pytest.approx(rows["prediction"].mean())
        assert key in metadata["preview"]
        assert not any(other in metadata["preview"] for other in sessions if other != key)


@pytest.mark.slow
def test_predictions_use_only_models_trained_before_each_session(setup):
    tmp_path, resources, instance = setup
    assert _run([trained_model], resources, instance, *WEEKS, RIDGE_H5).success
    result = _run([predictions], resources, instance, "2023-10-02", "2023-10-27", PREDICT_H5)
    assert result.success
    frame = pl.read_parquet(sorted((tmp_path / "data" / "predictions").glob("*.parquet")))
    assert frame.height == 20 * len(SYMBOLS)
    assert (frame["model_train_end"] <= frame["date"]).all()
    assert (frame["interval_low"] < frame["prediction"]).all() and (frame["prediction"] < frame["interval_high"]).all()
    assert frame["model_version"].str.starts_with(NAME).all()


@pytest.mark.slow
def test_predictions_before_the_first_model_fail_clearly(setup):
    tmp_path, resources, instance = setup
    assert _run([trained_model], resources, instance, *WEEKS, RIDGE_H5).success
    result = _run([predictions], resources, instance, "2023-09-25", "2023-09-29", PREDICT_H5, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "was trained before 2023-09-25" in failure.event_specific_data.error.message


@pytest.mark.slow
def test_tuning_runs_an_optuna_study_that_persists_and_resumes(setup):
    import optuna

    tmp_path, resources, instance = setup
    config = {"trained_model": {"config": {**RIDGE_H5["trained_model"]["config"], "tuning_trials": 3}}}
    for _ in range(2):  # a second run of the same week resumes the same study
        assert _run([trained_model], resources, instance, WEEKS[0], WEEKS[0], config).success
    summaries = optuna.get_all_study_summaries(storage=resources["optuna"].storage)
    assert [s.study_name for s in summaries] == [f"{NAME}_ridge_{WEEKS[0]}"]
    assert summaries[0].n_trials == 6


@pytest.mark.slow
def test_retraining_a_past_week_never_displaces_a_newer_champion(setup):
    tmp_path, resources, instance = setup
    tracking = TrackingConfig(tracking_uri=resources["mlflow"].tracking_uri)
    assert _run([trained_model], resources, instance, WEEKS[1], WEEKS[1], RIDGE_H5).success
    newest = champion_version(tracking, NAME)
    result = _run([trained_model], resources, instance, WEEKS[0], WEEKS[0], RIDGE_H5)
    assert result.success
    assert champion_version(tracking, NAME).version == newest.version
    metadata = _by_partition(result)[WEEKS[0]]
    assert metadata["alias"] == "challenger"
    assert "newer champion" in metadata["decision"]
