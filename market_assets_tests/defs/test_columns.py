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
