"""feature_table, market_regimes, labels and feature_ic through Dagster."""

import shutil

import dagster as dg
import polars as pl
import polars.testing
import pytest
from polars.testing import assert_frame_equal

from market_assets.defs.assets.diagnostics import feature_ic
from market_assets.defs.assets.features import build_feature_table
from market_assets.defs.assets.labels import labels
from market_assets.defs.assets.prices import raw_prices, validate_prices_step
from market_assets.defs.assets.regimes import market_regimes
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.resources import PriceSourceResource
from market_assets.quant.features import max_warmup

# A subset with recursive (EMA, Wilder), windowed, cross-sectional and calendar features.
SUBSET = ["sma_20", "ema_10", "rsi_14", "macd_hist_12_26_9", "atr_14", "bb_pctb_20_2", "ret_log_1",
          "roc_5", "kmid", "std_20", "cs_rank_ret_1", "day_of_week"]
PRICES = ("2021-11-01", "2024-03-28")
TARGET = ("2024-02-01", "2024-03-28")


def _resources(root) -> dict:
    return {"parquet_io_manager": PartitionedParquetIOManager(root=str(root)),
            "price_source": PriceSourceResource(n_symbols=8, defects=0.0)}


def _run(selected, root, instance, start, end, *, feature_table=None, **kwargs):
    """Materialize ``selected`` (all other assets are there as stored upstreams)."""
    everything = [raw_prices, validate_prices_step, market_regimes, labels, feature_ic,
                  feature_table or build_feature_table(SUBSET)]
    return dg.materialize(
        everything, selection=selected, instance=instance, resources=_resources(root),
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        **kwargs,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Validated prices and regimes materialized once for the module (about two minutes: ~600 sessions)."""
    root = tmp_path_factory.mktemp("data")
    with dg.instance_for_test() as instance:
        assert _run([raw_prices, validate_prices_step], root, instance, *PRICES).success
        assert _run([market_regimes], root, instance, *TARGET).success
    return root


def test_the_subset_needs_history_beyond_the_target_window():
    assert 100 < max_warmup(SUBSET) < 500  # PRICES hold more history than the nightly window


@pytest.mark.slow
def test_a_nightly_run_gives_the_numbers_of_a_full_recompute(store, tmp_path):
    feature_table = build_feature_table(SUBSET)
    root = tmp_path / "data"
    shutil.copytree(store, root)
    with dg.instance_for_test() as instance:
        assert _run([feature_table], root, instance, *TARGET, feature_table=feature_table).success
        full = pl.read_parquet(root / "feature_table" / f"{TARGET[1]}.parquet")
        result = _run([feature_table], root, instance, TARGET[1], TARGET[1], feature_table=feature_table)
        assert result.success
    nightly = pl.read_parquet(root / "feature_table" / f"{TARGET[1]}.parquet")
    assert full.columns == nightly.columns == ["date", "symbol", *SUBSET, "p_bull", "p_bear", "p_sideways"]
    assert full.height == nightly.height == 8
    for name in full.columns[2:]:
        assert nightly[name].is_null().to_list() == full[name].is_null().to_list(), name
        pl.testing.assert_series_equal(nightly[name], full[name], rel_tol=1e-9, abs_tol=1e-12)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["features_are_finite"].passed
    assert evaluations["features_are_populated_after_warmup"].passed


@pytest.mark.slow
def test_regimes_are_named_probabilities_fitted_on_the_past(store):
    frame = pl.read_parquet(sorted((store / "market_regimes").glob("*.parquet")))
    assert frame["fit_end"].max() < pl.Series([TARGET[1]]).str.to_date()[0]
    assert (frame["fit_end"] < frame["date"]).all()
    total = frame.select(pl.col("p_bull") + pl.col("p_bear") + pl.col("p_sideways"))
    assert total.to_series().drop_nulls().is_between(1 - 1e-9, 1 + 1e-9).all()
    assert set(frame["regime"].drop_nulls()) <= {"bull", "bear", "sideways"}


@pytest.mark.slow
def test_labels_refuse_a_session_whose_window_has_not_closed(store, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(store, root)
    with dg.instance_for_test() as instance:
        result = _run([labels], root, instance, "2024-03-20", "2024-03-20", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "need the 20 sessions after it" in str(failure.event_specific_data.error.message)


@pytest.mark.slow
def test_labels_and_feature_ic_for_closed_windows(store, tmp_path):
    feature_table = build_feature_table(SUBSET)
    root = tmp_path / "data"
    shutil.copytree(store, root)
    with dg.instance_for_test() as instance:
        assert _run([feature_table], root, instance, *TARGET, feature_table=feature_table).success
        result = _run([labels, feature_ic], root, instance, TARGET[0], "2024-02-29")
    assert result.success
    frame = pl.read_parquet(sorted((root / "labels").glob("*.parquet")))
    assert frame["fwd_ret_20"].null_count() == 0 and frame["fwd_class_1"].null_count() == 0
    ic = pl.read_parquet(sorted((root / "feature_ic").glob("*.parquet")))
    assert set(ic["label"]) == {"fwd_ret_1", "fwd_ret_5", "fwd_ret_20"}
    assert ic.filter(pl.col("feature") == "sma_20")["rank_ic"].drop_nulls().is_between(-1, 1).all()
    metadata = _by_partition(result, "feature_ic")
    day = "2024-02-15"
    own = ic.filter((pl.col("date") == pl.lit(day).str.to_date()) & (pl.col("label") == "fwd_ret_5"))
    session = metadata[day]
    assert session["mean_abs_rank_ic_fwd_ret_5"].value == pytest.approx(own["rank_ic"].drop_nulls().abs().mean())
    assert session["mean_abs_rank_ic_fwd_ret_5"].value != metadata["2024-02-16"]["mean_abs_rank_ic_fwd_ret_5"].value
    lines = session["top_families_fwd_ret_5"].value.splitlines()
    assert lines[0].startswith("| family | feature | members | rank_ic | ic |")
    rows = {cells[1].strip(): cells[2:4] for cells in (line.split("|") for line in lines[2:]) if len(cells) > 3}
    # ret_log_1 and cs_rank_ret_1 rank the symbols alike every session: one row, family ret_1, best member named
    assert "ret_1" in rows and rows["ret_1"][0].strip() in {"ret_log_1", "cs_rank_ret_1"}
    assert rows["ret_1"][1].strip() == "2" and not {"ret_log_1", "cs_rank_ret_1"} & set(rows)


def _by_partition(result, asset: str) -> dict[str, dict]:
    return {m.partition: m.metadata for m in result.asset_materializations_for_node(asset)}


@pytest.mark.slow
def test_a_mid_month_session_alone_gets_the_probabilities_of_its_month_inside_a_range(store, tmp_path):
    # issue 8: the refit window starts at the month's first calendar session, whatever the run's first session
    root = tmp_path / "data"
    shutil.copytree(store, root)
    days = ("2024-03-15", "2024-02-29")  # mid-month; last session of a month (longest history)
    in_range = {day: pl.read_parquet(root / "market_regimes" / f"{day}.parquet") for day in days}
    with dg.instance_for_test() as instance:
        for day in days:
            result = _run([market_regimes], root, instance, day, day)
            assert result.success
            alone = pl.read_parquet(root / "market_regimes" / f"{day}.parquet")
            assert alone["p_bull"].null_count() == 0
            assert_frame_equal(alone, in_range[day])
            metadata = _by_partition(result, "market_regimes")[day]
            assert metadata["p_bull"].value == pytest.approx(alone["p_bull"][0])
            assert metadata["regime"].value == alone["regime"][0]


@pytest.mark.slow
def test_range_runs_give_each_session_its_own_metadata_and_check_evaluations(store, tmp_path):
    feature_table = build_feature_table(SUBSET)
    root = tmp_path / "data"
    shutil.copytree(store, root)
    days = ["2024-03-25", "2024-03-26", "2024-03-27"]
    with dg.instance_for_test() as instance:
        result = _run([feature_table], root, instance, days[0], days[-1], feature_table=feature_table)
    assert result.success
    metadata = _by_partition(result, "feature_table")
    assert sorted(metadata) == days
    # the columns the definition declares are those written; so no session's event repeats them
    declared = feature_table.metadata_by_key[dg.AssetKey("feature_table")]["dagster/column_schema"]
    written = pl.read_parquet_schema(root / "feature_table" / f"{days[0]}.parquet")
    assert [(c.name, c.type) for c in declared.columns] == [(n, str(t)) for n, t in written.items()]
    for day in days:
        assert "dagster/column_schema" not in metadata[day]
        assert metadata[day]["rows"].value == 8 and metadata[day]["symbols"].value == 8
        assert isinstance(metadata[day]["null_share"].value, float)
        preview = metadata[day]["preview"].value
        assert day in preview and not {d for d in days if d != day} & {w for w in preview.split() if w in days}
    evaluations = result.get_asset_check_evaluations()
    per_session = {(e.check_name, e.partition) for e in evaluations if e.partition is not None}
    assert per_session == {(name, day) for day in days for name in (
        "features_are_finite", "features_are_populated_after_warmup", "features_are_not_constant")}
    run_level = {e.check_name: e for e in evaluations if e.partition is None}
    assert set(run_level) == {spec.name for spec in feature_table.check_specs}
    finite = run_level["features_are_finite"]
    assert finite.passed and finite.metadata["sessions_judged"].value == f"{days[0]} … {days[-1]}"
    assert finite.metadata["sessions"].value == 3 and finite.metadata["failing_by_session"].value == {}
    assert run_level["features_are_not_redundant"].metadata["sessions_judged"].value.endswith("(pooled)")
