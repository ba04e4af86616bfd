"""End to end on a real instance: a regime shift fails the drift check, the sensor retrains once, then
a performance failure does the same.

The stored history is a synthetic market with a regime shift on ``SHIFT``:
validated prices, a small feature table and labels are written in the IO
manager's layout; models, predictions, performance, drift and the retrain run
go through Dagster and MLflow for real.
"""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from market_assets.calendars import sessions_between
from market_assets.defs.assets.models import trained_model
from market_assets.defs.assets.monitoring import drift_report, model_performance
from market_assets.defs.assets.predictions import predictions
from market_assets.defs.assets.retraining import retrained_model
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS as SESSION_PARTITIONS
from market_assets.defs.resources import MlflowResource, OptunaResource
from market_assets.defs.sensors import retrain_sensor
from market_assets.quant.features import compute_features
from market_assets.quant.labels import MAX_HORIZON, compute_labels
from market_assets.sources import build_source
from market_assets.tracking._session import client_for
from market_assets.workflow.training import registered_model_name

pytestmark = pytest.mark.slow

FIRST, LAST = dt.date(2022, 9, 1), dt.date(2023, 12, 29)
SHIFT = dt.date(2023, 10, 2)
CALENDAR = sessions_between("XNYS", FIRST, LAST)
FEATURES = ["ret_1", "ret_5", "ret_20", "std_20", "natr_14", "rsi_14", "volume_ratio_20", "cs_z_ret_5"]
NAME = registered_model_name("regression", 1)
MODEL = {"model_name": "ridge", "horizon": 1, "validation_sessions": 40}
# Eight features: a calm window reaches 3 of 8 drifted (calibrated), a post-shift one 6-7 of 8.
DRIFT = {"max_drifted_share": 0.5}


def _write(root: Path, asset: str, frame: pl.DataFrame, sessions) -> None:
    for session in sessions:
        path = root / asset / f"{session.isoformat()}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.filter(pl.col("date") == session).write_parquet(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitoring")
    source = build_source("synthetic", n_symbols=20, seed=5, signal_strength=0.1, regime_shift_date=SHIFT.isoformat())
    prices = source.fetch(FIRST, LAST)
    features = compute_features(prices, features=FEATURES)
    labels = compute_labels(prices)
    _write(root / "data", "validated_prices", prices, CALENDAR)
    _write(root / "data", "feature_table", features, CALENDAR)
    _write(root / "data", "labels", labels, CALENDAR[:-MAX_HORIZON])
    return root


def _resources(root: Path) -> dict:
    return {
        "parquet_io_manager": PartitionedParquetIOManager(root=str(root / "data")),
        "mlflow": MlflowResource(tracking_uri=f"sqlite:///{root / 'mlflow.db'}"),
        "optuna": OptunaResource(storage=f"sqlite:///{root / 'optuna.db'}"),
    }


UPSTREAMS = [
    dg.AssetSpec(name, partitions_def=SESSION_PARTITIONS).with_io_manager_key("parquet_io_manager")
    for name in ("validated_prices", "feature_table", "labels")
]
ASSETS = [*UPSTREAMS, trained_model, predictions, model_performance, drift_report, retrained_model]


def _run(root, instance, selection, start, end, config=None, tags=None):
    result = dg.materialize(
        ASSETS, selection=selection, resources=_resources(root), instance=instance,
        tags={"dagster/asset_partition_range_start": str(start), "dagster/asset_partition_range_end": str(end),
              **(tags or {})},
        run_config={"ops": config or {}},
    )
    assert result.success
    return result


def _evaluations(instance, asset, check):
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=500)
    return {r.partition: r for r in records if r.partition is not None}


def _tick(instance, cursor):
    result = retrain_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    return list(result.run_requests or []), result.cursor


def test_a_regime_shift_fails_drift_and_one_retrain_follows_then_performance(store):
    after = [s for s in CALENDAR if s >= SHIFT]
    monitored = (dt.date(2023, 9, 25), after[20])  # 5 sessions before the shift to a full window after it
    with dg.instance_for_test() as instance:
        _run(store, instance, ["trained_model"], "2023-09-17", "2023-09-24", {"trained_model": {"config": MODEL}})
        _run(store, instance, ["predictions"], "2023-09-18", after[30])
        _run(store, instance, ["model_performance", "drift_report"], *monitored,
             {"drift_report": {"config": {**DRIFT, "html_reports": 1}}})

        drift = _evaluations(instance, "drift_report", "no_feature_drift")
        assert drift["2023-09-25"].status.value == "SUCCEEDED"  # a window of the old regime
        assert drift[after[20].isoformat()].status.value == "FAILED"  # a window of the new one
        metadata = drift[after[20].isoformat()].evaluation.metadata
        assert metadata["observed_drifted_share"].value >= metadata["threshold"].value
        report = Path(metadata["report"].value)
        assert report.exists() and "<html" in report.read_text()[:2000].lower()

        # realised interval coverage, on sessions after the cut-off
        performance = {r.partition_key: r.asset_materialization.metadata for r in
                       instance.fetch_materializations(dg.AssetKey("model_performance"), limit=100).records}
        coverage = {k: m["interval_coverage_h1"].value for k, m in performance.items()}
        print("interval coverage", coverage["2023-09-29"], coverage[after[20].isoformat()])
        assert 0.5 < coverage["2023-09-29"] <= 1.0
        assert coverage[after[20].isoformat()] < coverage["2023-09-29"]  # the shift raised volatility

        # the sensor requests exactly one retrain for the drift episode, tagged with its cause
        requests, cursor = _tick(instance, None)
        assert len(requests) == 1
        request = requests[0]
        assert request.tags["market_assets/retrain_trigger"] == "drift"
        assert "no_feature_drift" in request.tags["market_assets/failed_checks"]
        assert request.tags["market_assets/failed_partition"] == request.partition_key
        assert request.run_key == f"retrain-{request.partition_key}"
        assert _tick(instance, cursor)[0] == []  # nothing new: nothing requested

        # the retrain succeeds and registers a version whose cut-off is the failing session
        session = dt.date.fromisoformat(request.partition_key)
        _run(store, instance, ["retrained_model"], session, session, {"retrained_model": {"config": MODEL}},
             tags=request.tags)
        versions = client_for(_resources(store)["mlflow"].tracking()).search_model_versions(f"name = '{NAME}'")
        retrain = max(versions, key=lambda v: int(v.version))
        assert retrain.tags["cut_off_session"] == session.isoformat()
        assert retrain.tags["train_end"] == (session + dt.timedelta(days=1)).isoformat()
        assert retrain.tags["retrain_trigger"] == "drift"
        materialization = instance.fetch_materializations(dg.AssetKey("retrained_model"), limit=1).records[0]
        assert materialization.partition_key == session.isoformat()
        assert materialization.asset_materialization.metadata["model_version"].value == int(retrain.version)
        # it saw the sessions that triggered it: labels up to the session itself
        assert materialization.asset_materialization.metadata["last_validation_label_end"].value == session.isoformat()

        # drift goes on failing inside the cool-down: no second retrain
        position = CALENDAR.index(session)
        inside = CALENDAR[position + 1], CALENDAR[position + 2]
        _run(store, instance, ["drift_report"], *inside, {"drift_report": {"config": {**DRIFT, "html_reports": 0}}})
        assert {_evaluations(instance, "drift_report", "no_feature_drift")[s.isoformat()].status.value
                for s in inside} == {"FAILED"}
        requests, cursor = _tick(instance, cursor)
        assert requests == []

        # a performance failure past the cool-down requests one retrain tagged "performance"
        later = CALENDAR[position + 6]
        impossible = {"model_performance": {"config": {"rank_ic_min": 0.99}}}
        _run(store, instance, ["model_performance"], later, later, impossible)
        requests, cursor = _tick(instance, cursor)
        assert [r.tags["market_assets/retrain_trigger"] for r in requests] == ["performance"]
        assert requests[0].partition_key == later.isoformat()
        assert json.loads(cursor)["last_request"] == later.isoformat()
