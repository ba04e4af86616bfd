"""Every stored column carries a description into ``dagster/column_schema``."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from market_assets.defs.columns import column_description
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.quant.features import FEATURE_SPECS
from market_assets.quant.labels import HORIZONS, label_columns
from market_assets.schema import REJECTION_SCHEMA

TABLES = {
    "price_rejections": list(REJECTION_SCHEMA),
    "labels": ["date", "symbol", *label_columns(HORIZONS)],
    "market_regimes": ["date", "regime", "p_bull", "p_bear", "p_sideways", "fit_end"],
    "feature_ic": ["date", "feature", "label", "ic", "rank_ic"],
    "predictions": ["date", "symbol", "horizon", "prediction", "interval_low", "interval_high", "confidence",
                    "model_version", "model_train_end", "p_class_0", "p_class_4"],
    "feature_table": ["date", "symbol", *FEATURE_SPECS],
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_column_of_every_table_is_described(table):
    undocumented = [c for c in TABLES[table] if not column_description(c)]
    assert undocumented == []


def test_per_horizon_columns_name_their_horizon():
    assert "next 5 session" in column_description("fwd_ret_5")
    assert "STRONG_BUY" in column_description("fwd_class_20")
    assert column_description("not_a_column") is None


def test_the_io_manager_attaches_the_descriptions_to_the_schema(tmp_path):
    context = dg.build_output_context(asset_key=dg.AssetKey("labels"))
    frame = pl.DataFrame({"date": [dt.date(2025, 1, 2)], "symbol": ["A"], "fwd_ret_1": [0.01]})
    PartitionedParquetIOManager(root=str(tmp_path)).handle_output(context, frame)
    schema = context.get_logged_metadata()["dagster/column_schema"].schema
    assert {c.name: c.description for c in schema.columns} == {
        name: column_description(name) for name in frame.columns
    }


def _declared(table: pl.DataFrame) -> dict:
    from market_assets.defs.columns import declared_column_schema

    return declared_column_schema(table.schema)


def test_a_declared_schema_is_not_repeated_in_the_materialization_and_a_different_one_is(tmp_path):
    frame = pl.DataFrame({"date": [dt.date(2025, 1, 2)], "symbol": ["A"], "fwd_ret_1": [0.01]})
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    same = dg.build_output_context(asset_key=dg.AssetKey("labels"), definition_metadata=_declared(frame))
    manager.handle_output(same, frame)
    assert "dagster/column_schema" not in same.get_logged_metadata()
    # a column more, or one of another dtype, than declared: the materialization says what was written
    for written in (frame.with_columns(fwd_ret_5=pl.lit(0.02)), frame.with_columns(pl.col("fwd_ret_1").cast(pl.Float32))):
        other = dg.build_output_context(asset_key=dg.AssetKey("labels"), definition_metadata=_declared(frame))
        manager.handle_output(other, written)
        logged = other.get_logged_metadata()["dagster/column_schema"].schema
        assert [(c.name, c.type) for c in logged.columns] == [(n, str(t)) for n, t in written.schema.items()]


@pytest.mark.parametrize("asset_name", ["raw_prices", "validated_prices", "price_rejections"])
def test_the_price_assets_declare_the_columns_they_write(tmp_path, asset_name):
    from market_assets.defs.assets.prices import raw_prices, validate_prices_step
    from market_assets.defs.resources import PriceSourceResource

    with dg.instance_for_test() as instance:
        assert dg.materialize([raw_prices, validate_prices_step], instance=instance, partition_key="2024-01-10",
                              resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(tmp_path)),
                                         "price_source": PriceSourceResource(n_symbols=20, defects=0.05)}).success
    definition = raw_prices if asset_name == "raw_prices" else validate_prices_step
    declared = definition.metadata_by_key[dg.AssetKey(asset_name)]["dagster/column_schema"]
    written = pl.read_parquet_schema(tmp_path / asset_name / "2024-01-10.parquet")
    assert [(c.name, c.type) for c in declared.columns] == [(n, str(t)) for n, t in written.items()]
    assert all(c.description for c in declared.columns)
