"""A provider that back-adjusts history after splits: nightly runs equal a full recompute (Dagster)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl
import pytest

from market_assets.defs.assets.features import build_feature_table
from market_assets.defs.assets.prices import raw_prices, validate_prices_step
from market_assets.defs.assets.regimes import market_regimes
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.resources import PriceSourceResource
from market_assets.quant.features import max_warmup
from market_assets.sources.synthetic import SyntheticSource

D = dt.date
HISTORY = ("2024-03-01", "2024-06-03")  # fetched on 2024-06-03, before the splits
NIGHTLY = ("2024-06-04", "2024-06-05", "2024-06-06")
#: symbol -> (session, event ratio): 3:1 and 2:1 splits, a 2 % dividend, a 1:2 reverse split, an older split.
EVENTS = {"SYN000": (D(2024, 6, 4), 1 / 3), "SYN001": (D(2024, 6, 4), 0.5), "SYN002": (D(2024, 6, 5), 0.98),
          "SYN003": (D(2024, 5, 15), 0.5), "SYN004": (D(2024, 6, 6), 2.0)}
# Price-level, scale-free, recursive (Wilder), volume and cross-sectional features.
SUBSET = ["ret_1", "rsi_14", "sma_20", "bb_upper_20_2", "mom_10", "close_to_sma_20", "volume_ratio_20", "mfi_14",
          "obv_flow_20", "corr_5", "vma_5", "dollar_volume_20", "kmid", "std_20", "cs_rank_ret_1"]

pytestmark = pytest.mark.slow  # Dagster runs over ~65 sessions (half a minute)


class BackAdjustingSource:
    """The clean synthetic market with :data:`EVENTS`, served like Yahoo: asked for ``start .. end``,
    ``adj_close`` is ``close`` times the event ratios after the row up to ``end`` (so it equals
    ``close`` on ``end``, and every earlier row moves when an event happens)."""

    name = "synthetic"

    def __init__(self) -> None:
        self.clean = SyntheticSource(n_symbols=6, splits_per_year=0.0)

    def symbols(self) -> list[str]:
        return self.clean.symbols()

    def fetch(self, start: D, end: D) -> pl.DataFrame:
        rows = self.clean.fetch(start, end).with_columns(pl.lit(1.0).alias("g"))
        for symbol, (day, g) in EVENTS.items():
            mine = pl.col("symbol") == symbol
            split = g if abs(g - 1) > 0.1 else 1.0  # as traded: before a split, price / g and shares x g
            before = mine & (pl.col("date") < day)
            rows = rows.with_columns(
                *(pl.when(before).then(pl.col(c) / split).otherwise(pl.col(c)).alias(c)
                  for c in ("open", "high", "low", "close")),
                pl.when(before).then(pl.col("volume") * split).otherwise(pl.col("volume")).alias("volume"),
                pl.when(mine & (pl.col("date") == day)).then(g).otherwise(pl.col("g")).alias("g"),
            )
        later = pl.col("g").shift(-1).fill_null(1.0).reverse().cum_prod().reverse().over("symbol", order_by="date")
        return rows.with_columns((pl.col("close") * later).alias("adj_close")).drop("g").sort("date", "symbol")


class BackAdjustingPrices(PriceSourceResource):
    """The price_source resource serving :class:`BackAdjustingSource`."""

    def build(self) -> BackAdjustingSource:  # type: ignore[override]
        return BackAdjustingSource()


def _run(assets, root, instance, start: str, end: str):
    feature_table = build_feature_table(SUBSET)
    everything = [raw_prices, validate_prices_step, market_regimes, feature_table]
    result = dg.materialize(
        everything, selection=assets, instance=instance,
        resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(root)),
                   "price_source": BackAdjustingPrices(kind="synthetic", n_symbols=6)},
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
    )
    assert result.success
    return result


def _read(root, asset: str, day: str) -> pl.DataFrame:
    return pl.read_parquet(root / asset / f"{day}.parquet")


def _readjusted(results) -> dict[str, int]:
    return {m.partition: m.metadata["history_readjusted"].value
            for result in results for m in result.asset_materializations_for_node("raw_prices")}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A store kept by nightly runs and a store fetched once after every event.

    Both hold fewer sessions than the features' lookback, so a nightly run and a recompute read the
    same history; what may differ is only the basis it was fetched in (the lookback itself is tested
    in market_assets_tests/quant/test_adjustments.py and test_feature_assets.py).
    """
    assert max_warmup(SUBSET) > 70  # rsi_14's Wilder memory: the whole store is in every window
    nightly, full = tmp_path_factory.mktemp("nightly"), tmp_path_factory.mktemp("full")
    prices = ["raw_prices", "validated_prices", "price_rejections"]
    with dg.instance_for_test() as instance:
        _run(prices, nightly, instance, *HISTORY)
        # the nightly job: its session through the features
        nights = [_run([*prices, "market_regimes", "feature_table"], nightly, instance, day, day) for day in NIGHTLY]
        backfill = _run(prices, full, instance, HISTORY[0], NIGHTLY[-1])
        _run(["market_regimes"], full, instance, NIGHTLY[0], NIGHTLY[-1])
    return nightly, full, nights, backfill


def test_the_store_sees_splits_as_splits_and_records_the_readjusted_history(stores):
    nightly, full, nights, backfill = stores
    for day in NIGHTLY:
        assert _read(nightly, "price_rejections", day).is_empty(), day  # the 3:1 split is no unexplained jump
        assert _read(nightly, "validated_prices", day).height == 6
    assert _readjusted(nights) == {"2024-06-04": 2, "2024-06-05": 1, "2024-06-06": 1}  # SYN000+1, SYN002, SYN004
    assert set(_readjusted([backfill]).values()) == {0}  # one fetch, one basis: nothing to compare with
    night = {m.partition: m.metadata for m in nights[0].asset_materializations_for_node("raw_prices")}["2024-06-04"]
    assert night["adj_close_rebase"].value == pytest.approx({"SYN000": 3.0, "SYN001": 2.0})
    assert "SYN000" in night["history_readjusted_symbols"].value
    # returns from the stored adj_close are the provider's, whatever basis each row was fetched in
    def returns(root) -> pl.DataFrame:
        frame = pl.concat([_read(root, "validated_prices", d) for d in ("2024-06-03", *NIGHTLY)])
        return frame.sort("symbol", "date").select(
            "date", "symbol", pl.col("adj_close").pct_change().over("symbol").alias("ret"))
    ours, fresh = returns(nightly), returns(full)
    np.testing.assert_allclose(ours["ret"].drop_nulls(), fresh["ret"].drop_nulls(), rtol=1e-12, atol=1e-14)
    assert ours.filter(pl.col("ret").abs() > 0.2).is_empty()


def test_each_nightly_feature_row_equals_a_full_recompute(stores, tmp_path):
    nightly, full, _, _ = stores
    with dg.instance_for_test() as instance:
        for day in NIGHTLY:
            # the recompute is a range run ending at the session: price-level features are in the units
            # of the run's last session as traded (see market_assets.quant.adjustments)
            _run(["feature_table"], full, instance, NIGHTLY[0], day)
            ours, recomputed = _read(nightly, "feature_table", day), _read(full, "feature_table", day)
            assert ours.columns == recomputed.columns and ours.height == recomputed.height == 6
            for name in SUBSET:
                a, b = (f[name].cast(pl.Float64).fill_null(np.nan).to_numpy() for f in (ours, recomputed))
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"{name} on {day}")
