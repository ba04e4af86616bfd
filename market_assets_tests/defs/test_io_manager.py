"""The partitioned Parquet IO manager: splitting, atomic writes, lookback, errors."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from market_assets.defs.io_manager import PartitionedParquetIOManager

KEYS = ["2025-01-02", "2025-01-03", "2025-01-06"]
PARTS = dg.StaticPartitionsDefinition(KEYS)


def _frame(dates: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": [dt.date.fromisoformat(d) for d in dates], "symbol": ["A"] * len(dates),
         "close": [float(i + 1) for i in range(len(dates))]}
    )


def _output(keys: list[str]) -> dg.OutputContext:
    return dg.build_output_context(
        asset_key=dg.AssetKey(["prices"]), partition_key=keys[0] if len(keys) == 1 else None,
        asset_partitions_def=PARTS,
        asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1]) if len(keys) > 1 else None,
    )


def _input(keys: list[str], metadata: dict | None = None) -> dg.InputContext:
    return dg.build_input_context(
        asset_key=dg.AssetKey(["prices"]), asset_partitions_def=PARTS,
        asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1]),
        definition_metadata=metadata,
    )


def test_a_range_output_is_split_into_one_file_per_partition(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(KEYS), _frame(["2025-01-02", "2025-01-02", "2025-01-06"]))
    files = sorted(p.name for p in (tmp_path / "prices").iterdir())
    assert files == [f"{k}.parquet" for k in KEYS]  # the empty session gets an empty file
    assert pl.read_parquet(tmp_path / "prices" / "2025-01-02.parquet").height == 2
    assert pl.read_parquet(tmp_path / "prices" / "2025-01-03.parquet").height == 0
    loaded = manager.load_input(_input(KEYS))
    assert loaded.sort("date").equals(_frame(["2025-01-02", "2025-01-02", "2025-01-06"]).sort("date"))


def test_rows_outside_the_written_partitions_are_refused(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    with pytest.raises(ValueError, match=r"rows dated \['2025-01-06'\] fall outside"):
        manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02", "2025-01-06"]))
    assert not (tmp_path / "prices").exists() or not any((tmp_path / "prices").iterdir())


def test_a_missing_partition_is_a_clear_error(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-06"]), _frame(["2025-01-06"]))
    with pytest.raises(FileNotFoundError, match="partition 2025-01-03 has not been materialized"):
        manager.load_input(_input(["2025-01-03", "2025-01-06"]))


def test_missing_lookback_history_is_tolerated_but_not_the_target(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-06"]), _frame(["2025-01-06"]))
    loaded = manager.load_input(_input(KEYS, {"lookback_partitions": 2}))
    assert loaded["date"].to_list() == [dt.date(2025, 1, 6)]
    with pytest.raises(FileNotFoundError, match="2025-01-03"):
        manager.load_input(_input(KEYS, {"lookback_partitions": 1}))


def test_no_temporary_files_are_left_behind(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(KEYS), _frame(KEYS))
    manager.handle_output(_output(KEYS), _frame(KEYS))  # overwrite in place
    assert sorted(p.name for p in (tmp_path / "prices").iterdir()) == [f"{k}.parquet" for k in KEYS]


def test_object_store_roots_work_through_upath():
    manager = PartitionedParquetIOManager(root="memory://bucket/market")
    manager.handle_output(_output(KEYS), _frame(KEYS))
    assert manager.load_input(_input(KEYS)).height == 3
