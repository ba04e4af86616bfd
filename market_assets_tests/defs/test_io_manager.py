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


def test_a_hole_inside_the_lookback_is_an_error_naming_the_missing_sessions(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))
    manager.handle_output(_output(["2025-01-06"]), _frame(["2025-01-06"]))
    # 2025-01-03 is missing between two stored sessions: a 1-session return would span two
    with pytest.raises(FileNotFoundError, match=r"not materialized \(2025-01-03\).*hole"):
        manager.load_input(_input(KEYS, {"lookback_partitions": 2}))


def test_missing_sessions_after_the_last_stored_one_are_lookahead_not_holes(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))
    loaded = manager.load_input(_input(KEYS, {"lookahead_partitions": 2}))
    assert loaded["date"].to_list() == [dt.date(2025, 1, 2)]


def test_a_corrupt_partition_file_is_named(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(KEYS), _frame(KEYS))
    (tmp_path / "prices" / "2025-01-03.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"prices partition 2025-01-03 cannot be read \(.*2025-01-03.parquet\)"):
        manager.load_input(_input(KEYS))


def test_a_full_disk_names_the_partition_file_and_leaves_the_old_one(tmp_path, monkeypatch):
    import errno

    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))

    def full(self, file, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(OSError, match=r"partition 2025-01-02 to .*prices/2025-01-02.parquet failed: No space"):
        manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "prices").iterdir()] == ["2025-01-02.parquet"]  # no .tmp left
    assert manager.load_input(_input(["2025-01-02"])).height == 1


def test_stale_temporary_files_of_a_killed_write_are_removed_on_the_next_write(tmp_path):
    import os
    import time

    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))
    stale = tmp_path / "prices" / ".2025-01-02.parquet.dead.tmp"
    fresh = tmp_path / "prices" / ".2025-01-02.parquet.live.tmp"  # maybe a concurrent writer
    other = tmp_path / "prices" / ".2025-01-03.parquet.dead.tmp"  # a partition this write does not touch
    for leftover in (stale, fresh, other):
        leftover.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))
    assert not stale.exists() and fresh.exists() and other.exists()
    manager.handle_output(_output(KEYS), _frame(KEYS))  # a range write cleans each of its partitions
    assert not other.exists() and fresh.exists()


def test_partitions_written_before_a_column_was_added_read_with_it_null(tmp_path):
    manager = PartitionedParquetIOManager(root=str(tmp_path))
    manager.handle_output(_output(["2025-01-02"]), _frame(["2025-01-02"]))
    newer = _frame(["2025-01-03"]).with_columns(received_date=pl.lit(dt.date(2025, 1, 3)))
    manager.handle_output(_output(["2025-01-03"]), newer)
    loaded = manager.load_input(_input(["2025-01-02", "2025-01-03"])).sort("date")
    assert loaded["received_date"].to_list() == [None, dt.date(2025, 1, 3)]


def test_a_range_run_records_each_partitions_own_row_count_and_path(tmp_path):
    from market_assets.defs.metadata import add_partition_metadata

    @dg.asset(partitions_def=PARTS, io_manager_key="parquet_io_manager",
              backfill_policy=dg.BackfillPolicy.single_run())
    def prices(context) -> pl.DataFrame:
        frame = _frame(["2025-01-02", "2025-01-02", "2025-01-06"])
        add_partition_metadata(context, frame, lambda key, rows: {"rows": rows.height, "session": key})
        return frame

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [prices], instance=instance,
            resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(tmp_path))},
            tags={"dagster/asset_partition_range_start": KEYS[0], "dagster/asset_partition_range_end": KEYS[-1]},
        )
        assert result.success
        records = instance.fetch_materializations(dg.AssetKey("prices"), limit=10).records
    metadata = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert sorted(metadata) == KEYS
    for key, rows in zip(KEYS, [2, 0, 1], strict=True):
        assert metadata[key]["dagster/row_count"].value == metadata[key]["rows"].value == rows
        assert metadata[key]["session"].value == key
        assert metadata[key]["path"].value.endswith(f"{key}.parquet")
        assert "dagster/column_schema" in metadata[key]


def test_metadata_by_partition_takes_the_one_pass_path_on_this_dagster():
    """The bulk path reaches Dagster 1.13's accumulator; if an upgrade removes it, this fails (and the
    per-key fallback, correct but O(sessions) per call, would silently slow range runs)."""
    from market_assets.defs.metadata import add_metadata_by_partition

    seen: dict[str, bool] = {}

    @dg.asset(partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
    def prices(context) -> None:
        step = context.get_step_execution_context()
        seen["bulk"] = add_metadata_by_partition(step, context.assets_def.key, {KEYS[1]: {"n": 1}},
                                                 targeted=context.partition_keys)
        with pytest.raises(dg.DagsterInvariantViolationError, match=r"partition\(s\) \['2030-01-01'\]"):
            add_metadata_by_partition(step, context.assets_def.key, {"2030-01-01": {"n": 1}},
                                      targeted=context.partition_keys)

    with dg.instance_for_test() as instance:
        assert dg.materialize([prices], instance=instance, tags={
            "dagster/asset_partition_range_start": KEYS[0], "dagster/asset_partition_range_end": KEYS[-1]}).success
        records = instance.fetch_materializations(dg.AssetKey("prices"), limit=10).records
    assert seen == {"bulk": True}
    assert {r.partition_key: "n" in r.asset_materialization.metadata for r in records} == {
        KEYS[0]: False, KEYS[1]: True, KEYS[2]: False}
