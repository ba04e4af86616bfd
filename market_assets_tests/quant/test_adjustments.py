"""Corporate actions: split/dividend factors point in time, and a store that keeps one basis."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from market_assets.quant.adjustments import (
    BASIS_SCHEMA,
    point_in_time_adjusted,
    point_in_time_scales,
    rebase_to_stored,
    split_ratios,
)
from market_assets.quant.features import canonical_feature_names, compute_features, max_warmup
from market_assets.sources.synthetic import SyntheticSource

FEATURES = canonical_feature_names(history_dependent=False)
D = dt.date


# ---- the rule: split or dividend ---------------------------------------------------------------

def test_split_ratios_are_snapped_fractions_and_dividends_are_not_splits():
    g = np.array([0.5, 1 / 3, 0.25, 2 / 3, 1 / 7, 0.05, 10.0, 2.0000001, 0.98, 0.9957, 0.995, 1.0, np.nan, 0.495])
    expected = [0.5, 1 / 3, 0.25, 2 / 3, 1 / 7, 1 / 20, 10.0, 2.0, 1, 1, 1, 1, 1, 1]
    assert split_ratios(g).tolist() == expected  # exact: 2:1, 3:1, 4:1, 3:2, 7:1, 20:1, 1:10 reverse, rounding
    # a 2:1 split with a 1 % dividend the same day is not a ratio of small integers: counted as a dividend
    assert split_ratios(np.array([0.5 * 0.99]))[0] == 1.0


# ---- point in time: anchored at the window's last session, basis-free --------------------------

def _frame(**columns) -> pl.DataFrame:
    n = len(columns["close"])
    base = {"date": [D(2024, 1, 2) + dt.timedelta(days=i) for i in range(n)], "symbol": "AAA",
            "open": columns["close"], "high": columns["close"], "low": columns["close"], "volume": [100.0] * n}
    return pl.DataFrame(base | columns)


def test_prices_are_back_adjusted_to_the_last_session_as_traded():
    # a 2:1 split on day 2, a 1 % dividend on day 4; the provider's basis (fetched later) is 0.9
    close = [100.0, 102.0, 50.0, 51.0, 50.0]
    factor = [0.9 * 0.5 * 0.99, 0.9 * 0.5 * 0.99, 0.9 * 0.99, 0.9 * 0.99, 0.9]
    volume = [10.0, 12.0, 30.0, 20.0, 22.0]
    prices = _frame(close=close, adj_close=[c * f for c, f in zip(close, factor)], volume=volume)
    out = point_in_time_adjusted(prices)
    np.testing.assert_allclose(out["adj_close"], [49.5, 50.49, 49.5, 50.49, 50.0], rtol=1e-14)
    np.testing.assert_allclose(out["price_factor"], [0.495, 0.495, 0.99, 0.99, 1.0], rtol=1e-14)
    assert out["split_factor"].to_list() == [0.5, 0.5, 1.0, 1.0, 1.0]  # the dividend is not a split
    assert out["adj_volume"].to_list() == [20.0, 24.0, 30.0, 20.0, 22.0]
    assert out["close"].to_list() == close  # the row as traded is kept
    # another basis (a provider asked on another day) gives the same adjusted prices
    rebased = prices.with_columns(pl.col("adj_close") * 1.7)
    assert_frame_equal(point_in_time_adjusted(rebased).drop("adj_close", "price_factor"),
                       out.drop("adj_close", "price_factor"))
    np.testing.assert_allclose(point_in_time_adjusted(rebased)["adj_close"], out["adj_close"], rtol=1e-14)


def test_scales_of_a_padded_panel_anchor_each_symbol_at_its_own_last_row():
    factor = np.array([[0.25, 2.0], [0.5, 2.0], [0.5, 1.0], [1.0, np.nan]])  # B ends a session early
    price, split = point_in_time_scales(factor)
    np.testing.assert_array_equal(price[:, 0], [0.25, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(price[:3, 1], [2.0, 2.0, 1.0])
    assert split is not None
    np.testing.assert_array_equal(split[:, 0], [0.25, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(split[:3, 1], [2.0, 2.0, 1.0])  # a 1:2 reverse split
    assert point_in_time_scales(np.array([[0.99], [1.0]]))[1] is None  # a dividend only: no split scale


# ---- one basis in the store ----------------------------------------------------------------------

def _rows(day: D, **by_symbol: tuple[float, float]) -> pl.DataFrame:
    """Rows of ``day``: symbol -> (close, adj_close)."""
    return pl.DataFrame({"date": day, "symbol": list(by_symbol), "close": [v[0] for v in by_symbol.values()],
                         "adj_close": [v[1] for v in by_symbol.values()], "volume": 1.0})


def test_fetched_rows_are_chained_onto_the_stored_basis_through_the_overlap():
    stored = pl.concat([_rows(D(2024, 3, 1), AAA=(90.0, 90.0), BBB=(10.0, 9.0)),
                        _rows(D(2024, 3, 1), BBB=(10.0, 9.0))])  # a duplicate counts once
    fetched = pl.concat([
        _rows(D(2024, 3, 1), AAA=(90.0, 45.0), BBB=(10.0, 9.0)),  # AAA re-adjusted: a 2:1 split on 3/4
        _rows(D(2024, 3, 2), AAA=(91.0, 45.5)),  # a Saturday the overlap session owns: not the run's
        _rows(D(2024, 3, 4), AAA=(46.0, 46.0), BBB=(10.0, 9.0), CCC=(5.0, 5.0)),
    ])
    result = rebase_to_stored(fetched, stored, D(2024, 3, 1), D(2024, 3, 4))
    assert result.prices.columns == fetched.columns
    assert result.prices["date"].unique().to_list() == [D(2024, 3, 4)]
    assert result.prices["adj_close"].to_list() == [92.0, 9.0, 5.0]  # AAA x 2: consecutive rows keep g = 0.5
    assert result.basis.schema == pl.Schema(BASIS_SCHEMA)
    assert result.basis.to_dicts() == [
        {"symbol": "AAA", "stored_factor": 1.0, "fetched_factor": 0.5, "rebase": 2.0, "previous_rebase": 1.0,
         "readjusted": True},
        {"symbol": "BBB", "stored_factor": 0.9, "fetched_factor": 0.9, "rebase": 1.0, "previous_rebase": 1.0,
         "readjusted": False},
    ]
    assert result.readjusted["symbol"].to_list() == ["AAA"]
    # the next night: AAA stays 2x off the provider (the store keeps its basis), which is no news
    later = pl.concat([_rows(D(2024, 3, 4), AAA=(46.0, 46.0)), _rows(D(2024, 3, 5), AAA=(47.0, 47.0))])
    next_night = rebase_to_stored(later, result.prices, D(2024, 3, 4), D(2024, 3, 5), previous_rebase={"AAA": 2.0})
    assert next_night.prices["adj_close"].to_list() == [94.0]
    assert next_night.basis.select("rebase", "readjusted").row(0) == (2.0, False)


def test_a_symbol_without_a_usable_overlap_row_is_left_as_received():
    stored = _rows(D(2024, 3, 1), AAA=(90.0, float("nan")))
    fetched = pl.concat([_rows(D(2024, 3, 1), AAA=(90.0, 45.0)), _rows(D(2024, 3, 4), AAA=(46.0, 46.0))])
    result = rebase_to_stored(fetched, stored, D(2024, 3, 1), D(2024, 3, 4))
    assert result.prices["adj_close"].to_list() == [46.0]
    assert result.basis.select("stored_factor", "rebase", "readjusted").row(0) == (None, 1.0, False)


# ---- a back-adjusting provider: nightly equals a full recompute ----------------------------------

#: Events planted on the synthetic market: symbol -> (session index, event ratio g).
NIGHTLY = 2560  # index of the nightly session (needs max_warmup = 2502 sessions of history)
EVENTS = {"SYN000": [(NIGHTLY, 1 / 3)], "SYN001": [(NIGHTLY, 0.5)], "SYN002": [(NIGHTLY, 0.98)],
          "SYN003": [(NIGHTLY - 30, 0.25)], "SYN004": [(NIGHTLY + 1, 0.5)]}


@functools.lru_cache(maxsize=1)
def _clean_market() -> pl.DataFrame:
    """The synthetic market without splits (adj_close = close), SYN000 … SYN005."""
    source = SyntheticSource(n_symbols=6, start="2015-01-02", end="2026-12-31", splits_per_year=0.0)
    return source.fetch(D(2015, 1, 2), D(2026, 12, 31))


def _market(n_sessions: int) -> tuple[pl.DataFrame, tuple[D, ...]]:
    """As traded: the clean market with :data:`EVENTS` (before a split, prices x 1/g and shares x g,
    so the clean market is the split one in its last session's shares; a dividend is in the price
    already) and the event ratio ``g`` of each row."""
    prices = _clean_market()
    dates = tuple(prices["date"].unique().sort().to_list()[:n_sessions])
    prices = prices.filter(pl.col("date") <= dates[-1]).with_columns(pl.lit(1.0).alias("g"))
    for symbol, events in EVENTS.items():
        for index, g in events:
            mine = pl.col("symbol") == symbol
            before = mine & (pl.col("date") < dates[index])
            split = g if abs(g - 1) > 0.1 else 1.0
            prices = prices.with_columns(
                *(pl.when(before).then(pl.col(c) / split).otherwise(pl.col(c)).alias(c)
                  for c in ("open", "high", "low", "close")),
                pl.when(before).then(pl.col("volume") * split).otherwise(pl.col("volume")).alias("volume"),
                pl.when(mine & (pl.col("date") == dates[index])).then(g).otherwise(pl.col("g")).alias("g"),
            )
    return prices, dates


def _provider_view(prices: pl.DataFrame, as_of: D) -> pl.DataFrame:
    """What a back-adjusting provider returns when asked at ``as_of``: adj_close = close x the
    event ratios after the row up to ``as_of`` (Yahoo's convention: adj_close = close on ``as_of``)."""
    seen = prices.filter(pl.col("date") <= as_of).sort("symbol", "date")
    later = pl.col("g").shift(-1).fill_null(1.0).reverse().cum_prod().reverse().over("symbol")
    return seen.with_columns((pl.col("close") * later).alias("adj_close")).drop("g").sort("date", "symbol")


def _nightly_store(prices: pl.DataFrame, dates: tuple[D, ...], first_nightly: int, *, chain: bool
                   ) -> pl.DataFrame:
    """History fetched on the session before ``first_nightly``, then one nightly fetch per session
    (with the session before it, as raw_prices does), chained onto the store or (today) not."""
    store = _provider_view(prices, dates[first_nightly - 1])
    for index in range(first_nightly, len(dates)):
        overlap, day = dates[index - 1], dates[index]
        fetched = _provider_view(prices, day).filter(pl.col("date") >= overlap)
        if chain:
            new = rebase_to_stored(fetched, store.filter(pl.col("date") == overlap), overlap, day).prices
        else:
            new = fetched.filter(pl.col("date") == day)
        store = pl.concat([store, new])
    return store


def _differing(a: pl.DataFrame, b: pl.DataFrame, rtol: float = 1e-10, atol: float = 1e-10) -> list[str]:
    """Features of ``a`` and ``b`` (same rows) that differ beyond ``atol + rtol * |b|`` or in their nulls."""
    names = [c for c in a.columns if c not in ("date", "symbol")]
    return [c for c in names if not np.allclose(a[c].cast(pl.Float64).fill_null(np.nan).to_numpy(),
                                                b[c].cast(pl.Float64).fill_null(np.nan).to_numpy(),
                                                rtol=rtol, atol=atol, equal_nan=True)]


@pytest.mark.slow
def test_nightly_runs_after_a_readjusted_split_equal_a_full_recompute():
    prices, dates = _market(NIGHTLY + 3)
    lookback = max_warmup(FEATURES)
    store = _nightly_store(prices, dates, NIGHTLY, chain=True)
    unchained = _nightly_store(prices, dates, NIGHTLY, chain=False)
    for index in range(NIGHTLY, len(dates)):
        day = dates[index]
        window = store.filter(pl.col("date").is_between(dates[index - lookback], day))
        nightly = compute_features(window, features=FEATURES, output_dates=[day])
        full = compute_features(_provider_view(prices, day), features=FEATURES, output_dates=[day])
        assert nightly.height == full.height == 6
        # 1e-10: what a lookback of max_warmup sessions promises (ema_200 forgets its seed to 2e-11)
        assert _differing(nightly, full) == [], day
        # today's store (each nightly as received, no overlap) shows the splits as crashes
        today = compute_features(unchained.filter(pl.col("date").is_between(dates[index - lookback], day)),
                                 features=FEATURES, output_dates=[day])
        assert len(_differing(today, full)) > 100
    ret = (store.filter(pl.col("symbol") == "SYN000").sort("date")["adj_close"].pct_change()
           .to_numpy()[NIGHTLY])
    assert abs(ret) < 0.2  # the 3:1 split is a split in the store, not a -67 % day


# ---- volume across splits ------------------------------------------------------------------------

def test_volume_features_are_continuous_across_a_split():
    prices, dates = _market(NIGHTLY + 3)
    splits_only = (pl.col("symbol") != "SYN002") & (pl.col("date") >= dates[NIGHTLY - 400])  # no dividend
    ours = compute_features(_provider_view(prices.filter(splits_only), dates[-1]), features=FEATURES)
    # the market without the splits, in the last session's shares, is the oracle
    clean = _clean_market().filter(splits_only & (pl.col("date") <= dates[-1]))
    oracle = compute_features(clean, features=FEATURES)
    assert _differing(ours, oracle) == []
    # adjusted prices with the shares as reported (today's features) move the volume features only
    reported = clean.join(prices.select("date", "symbol", "volume"), on=["date", "symbol"], suffix="_reported")
    raw_shares = compute_features(reported.with_columns(volume="volume_reported"), features=FEATURES)
    moved = _differing(raw_shares, oracle)
    assert len(moved) > 40
    assert all(n.startswith(VOLUME_PREFIXES) or "volume" in n or "mfi" in n for n in moved), moved


VOLUME_PREFIXES = ("volume", "obv", "cmf", "vpt", "mfi", "vwap", "dollar_volume", "vma", "vstd", "wvma", "vsump",
                   "corr", "cord")
