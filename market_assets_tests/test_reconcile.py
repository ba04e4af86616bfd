"""python -m market_assets.reconcile: files without events, events without files, --record."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys

import dagster as dg
import polars as pl
import pytest

from market_assets.defs.assets.prices import raw_prices
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.resources import PriceSourceResource
from market_assets.reconcile import RECONCILED_TAG, find_discrepancies, main, parquet_assets

SESSIONS = ["2024-03-04", "2024-03-05", "2024-03-06"]
RAW = dg.AssetKey("raw_prices")


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / "data"
    defs = dg.Definitions(
        assets=[raw_prices],
        resources={
            "parquet_io_manager": PartitionedParquetIOManager(root=str(root)),
            "price_source": PriceSourceResource(kind="synthetic", n_symbols=3),
        },
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [raw_prices], instance=instance, resources=defs.resources,
            tags={"dagster/asset_partition_range_start": SESSIONS[0],
                  "dagster/asset_partition_range_end": SESSIONS[-1]},
        )
        assert result.success
        yield root, defs, instance


def _run(defs, instance, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(args), instance=instance, defs=defs, out=out)
    return status, out.getvalue()


def _copy_in(root, key: str, like: str = SESSIONS[0]) -> None:
    """A partition file that arrived without a run (copied in, or written before its run died)."""
    frame = pl.read_parquet(root / "raw_prices" / f"{like}.parquet")
    frame.write_parquet(root / "raw_prices" / f"{key}.parquet")


def test_a_consistent_store_reports_nothing(setup):
    root, defs, instance = setup
    status, text = _run(defs, instance)
    assert status == 0
    assert text.strip() == (f"0 file(s) without a materialization, 0 materialization(s) without a file, "
                            f"0 file(s) not named after a partition key (1 asset(s) checked under {root})")


def test_a_file_without_an_event_is_listed_and_recorded(setup):
    root, defs, instance = setup
    _copy_in(root, "2024-03-07")
    status, text = _run(defs, instance, "--report")
    assert status == 1
    assert f"raw_prices  2024-03-07  file without a materialization  at {root}/raw_prices/2024-03-07.parquet" in text
    assert "2024-03-07" not in instance.get_materialized_partitions(RAW)  # --report changes nothing

    status, text = _run(defs, instance, "--record")
    assert status == 0 and "recorded 1 materialization(s) tagged market_assets/reconciled=true" in text
    assert "2024-03-07" in instance.get_materialized_partitions(RAW)
    latest = instance.fetch_materializations(RAW, limit=1).records[0]
    assert latest.partition_key == "2024-03-07" and latest.run_id == ""
    assert latest.asset_materialization.tags == {RECONCILED_TAG: "true"}
    metadata = latest.asset_materialization.metadata
    assert metadata["path"].value == str(root / "raw_prices" / "2024-03-07.parquet")
    assert metadata["dagster/row_count"].value == pl.read_parquet(root / "raw_prices" / "2024-03-07.parquet").height
    assert _run(defs, instance)[0] == 0  # reconciled: nothing left


def test_a_write_that_finished_before_its_run_died_is_found(setup):
    root, defs, instance = setup
    # the IO manager's own write, without the event a live run would have stored after it
    context = dg.build_output_context(asset_key=RAW, partition_key="2024-03-07")
    frame = pl.read_parquet(root / "raw_prices" / f"{SESSIONS[0]}.parquet").with_columns(
        pl.lit(dt.date(2024, 3, 7)).alias("date"), pl.lit(dt.date(2024, 3, 7)).alias("received_date"))
    PartitionedParquetIOManager(root=str(root)).handle_output(context, frame)
    found = find_discrepancies(instance, defs.resources["parquet_io_manager"], parquet_assets(defs))
    assert [(d.partition, d.kind) for d in found] == [("2024-03-07", "file_without_event")]


def test_an_event_whose_file_is_gone_is_reported_but_not_recorded(setup):
    root, defs, instance = setup
    (root / "raw_prices" / f"{SESSIONS[1]}.parquet").unlink()
    status, text = _run(defs, instance, "--record")
    assert status == 1
    assert f"raw_prices  {SESSIONS[1]}  materialization without a file  expected at {root}/raw_prices/" in text
    assert "recorded 0 materialization(s)" in text and "re-materialize those partitions" in text


def test_a_file_not_named_after_a_session_is_never_recorded(setup):
    root, defs, instance = setup
    _copy_in(root, "2024-03-09")  # a Saturday: no such partition
    (root / "raw_prices" / ".2024-03-04.parquet.0123.tmp").write_bytes(b"half a write")  # ignored
    status, text = _run(defs, instance, "--record")
    assert status == 1
    assert "raw_prices  2024-03-09  file not named after a partition key" in text
    assert "recorded 0 materialization(s)" in text
    assert "2024-03-09" not in instance.get_materialized_partitions(RAW)
    assert ".tmp" not in text


def test_only_the_asset_asked_for_and_unknown_assets_are_refused(setup, capsys):
    root, defs, instance = setup
    assert _run(defs, instance, "--asset", "raw_prices")[0] == 0
    assert main(["--asset", "no_such_asset"], instance=instance, defs=defs) == 2
    assert "--asset 'no_such_asset' is not an asset stored as Parquet partitions; expected one of: raw_prices" in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit):  # argparse: the two modes exclude each other
        main(["--report", "--record"], instance=instance, defs=defs)


def test_the_code_location_lists_every_parquet_asset():
    from market_assets.definitions import defs

    assets = parquet_assets(defs)
    assert {"raw_prices", "validated_prices", "price_rejections", "feature_table", "labels"} <= {
        k.to_user_string() for k in assets}
    assert dg.AssetKey("trained_model") not in assets  # stored by another IO manager


@pytest.mark.slow
def test_the_command_runs_against_the_instance_of_dagster_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "MARKET_ASSETS_DATA_ROOT": str(tmp_path / "data")}
    (tmp_path / "data" / "raw_prices").mkdir(parents=True)
    pl.DataFrame({"date": [dt.date(2024, 3, 4)]}).write_parquet(
        tmp_path / "data" / "raw_prices" / "2024-03-04.parquet")
    done = subprocess.run([sys.executable, "-m", "market_assets.reconcile", "--asset", "raw_prices"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "raw_prices  2024-03-04  file without a materialization" in done.stdout
    unset = {k: v for k, v in env.items() if k != "DAGSTER_HOME"}
    done = subprocess.run([sys.executable, "-m", "market_assets.reconcile"], env=unset,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "set DAGSTER_HOME" in done.stderr
