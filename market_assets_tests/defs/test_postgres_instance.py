"""The production deploy/dagster.yaml against the real PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import shutil
import dagster as dg
import pytest

from market_assets.defs.assets.prices import raw_prices, validate_prices_step
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.resources import PriceSourceResource
from market_assets.settings import REPO_ROOT
from market_assets_tests import services

pytestmark = pytest.mark.postgres


@pytest.fixture
def dagster_database():
    with services.scratch_postgres_database("market_assets_dagster") as name:
        yield name


def test_partitions_materialize_into_postgres_and_read_back(tmp_path, monkeypatch, dagster_database):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_HOST": services.POSTGRES_HOST, "DAGSTER_PG_PORT": str(services.POSTGRES_PORT),
        "DAGSTER_PG_USER": services.POSTGRES_USER, "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": dagster_database,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        # the planned asset-check rows go through market_assets.instance_storage
        assert type(instance.event_log_storage).__name__ == "CheckPlanningPostgresEventLogStorage"
        result = dg.materialize(
            [raw_prices, validate_prices_step],
            instance=instance,
            resources={
                "parquet_io_manager": PartitionedParquetIOManager(root=str(tmp_path / "data")),
                "price_source": PriceSourceResource(n_symbols=5),
            },
            tags={
                "dagster/asset_partition_range_start": "2024-02-01",
                "dagster/asset_partition_range_end": "2024-02-07",
            },
        )
        assert result.success
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("validated_prices")), limit=50
        ).records
        ours = [r for r in records if r.run_id == result.run_id]
        assert sorted(r.partition_key for r in ours) == [
            "2024-02-01", "2024-02-02", "2024-02-05", "2024-02-06", "2024-02-07"
        ]
        assert all(r.asset_materialization.metadata["dagster/row_count"].value >= 0 for r in ours)
        checks = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(dg.AssetKey("validated_prices"), "ohlc_is_consistent")
        )
        assert checks is not None and checks.run_id == result.run_id
