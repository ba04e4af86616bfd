"""The synthetic market: determinism, slicing, stylized facts, planted signal, defects."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from market_assets.schema import PRICE_SCHEMA
from market_assets.sources.base import PriceSource, SourceError
from market_assets.sources.options import SourceOptionError
from market_assets.sources.synthetic import SyntheticSource, planted_predictor

START, END = dt.date(2015, 1, 2), dt.date(2026, 12, 31)
SMALL = {"n_symbols": 20, "start": "2020-01-02", "end": "2022-12-30"}


def _all(source: SyntheticSource) -> pl.DataFrame:
    return source.fetch(source.config.start, source.config.end)


def _log_returns(prices: pl.DataFrame, column: str = "adj_close") -> pl.DataFrame:
    return (
        prices.sort("symbol", "date")
        .with_columns(ret=(pl.col(column).log() - pl.col(column).log().shift(1)).over("symbol"))
        .drop_nulls("ret")
    )


def test_default_source_matches_the_contract() -> None:
    source = SyntheticSource()
    frame = source.fetch(dt.date(2024, 1, 2), dt.date(2024, 1, 31))
    assert isinstance(source, PriceSource)
    assert frame.schema == pl.Schema(PRICE_SCHEMA)
    assert source.symbols()[:2] == ["SYN000", "SYN001"] and len(source.symbols()) == 50
    assert frame["symbol"].n_unique() == 50
    assert frame["date"].n_unique() == 21  # XNYS sessions of January 2024 (1 Jan and 15 Jan closed)
    assert frame.equals(frame.sort("date", "symbol"))
    assert (frame["source"] == "synthetic").all()
    assert dt.date(2024, 1, 15) not in frame["date"].to_list()  # Martin Luther King Jr. Day


def test_same_seed_same_frame_and_different_seed_different_frame() -> None:
    a = _all(SyntheticSource(seed=3, **SMALL))
    b = _all(SyntheticSource(seed=3, **SMALL))
    c = _all(SyntheticSource(seed=4, **SMALL))
    assert a.equals(b)
    assert not a.select("close").equals(c.select("close"))


def test_one_day_fetch_equals_the_same_day_of_a_long_fetch() -> None:
    source = SyntheticSource()
    long = source.fetch(START, dt.date(2025, 12, 31))
    day = dt.date(2023, 6, 15)
    assert source.fetch(day, day).equals(long.filter(pl.col("date") == day))


def test_fetch_outside_the_simulated_window_is_an_error() -> None:
    source = SyntheticSource(**SMALL)
    with pytest.raises(SourceError, match=r"outside the simulated window 2020-01-02..2022-12-30"):
        source.fetch(dt.date(2019, 12, 1), dt.date(2020, 1, 31))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"signal_strength": 1.5}, r"signal_strength=1.5: expected a value in \(-1, 1\)"),
        ({"defects": 0.5}, r"defects=0.5: expected a per-row defect rate in \[0, 0.05\]"),
        ({"start": "2020-13-01"}, r"start='2020-13-01': expected an ISO date such as '2015-01-02'"),
        ({"start": "2022-01-01", "end": "2021-01-01"}, r"end=2021-01-01: expected a date after start=2022-01-01"),
        ({"regime_shift_date": "2031-01-01"}, r"regime_shift_date=2031-01-01: expected a date in \(2015-01-02, "),
        ({"n_symbols": -5}, r"n_symbols=-5: expected an integer in \[1, 10000\]"),
        ({"n_symbols": 2.5}, r"n_symbols=2.5: expected an integer"),
        ({"n_symbols": True}, r"n_symbols=True: expected an integer"),
    ],
)
def test_invalid_options_are_rejected_at_construction(options: dict, message: str) -> None:
    with pytest.raises(SourceOptionError, match=message) as info:
        SyntheticSource(**options)
    assert info.value.option == ("end" if "end" in options else next(iter(options)))


def test_returns_have_fat_tails_and_volatility_clustering() -> None:
    returns = _log_returns(_all(SyntheticSource(seed=11, n_symbols=30, start="2015-01-02", end="2024-12-31")))
    per_symbol = returns.group_by("symbol").agg(
        kurtosis=pl.col("ret").kurtosis(fisher=False),
        acf_sq=pl.corr(pl.col("ret").pow(2), pl.col("ret").pow(2).shift(1)),
        acf=pl.corr(pl.col("ret"), pl.col("ret").shift(1)),
    )
    assert per_symbol["kurtosis"].min() > 3.0
    assert per_symbol["acf_sq"].median() > 0.05
    assert abs(per_symbol["acf"].median()) < 0.05  # returns themselves are not autocorrelated


def test_symbols_share_a_market_factor() -> None:
    returns = _log_returns(_all(SyntheticSource(seed=5, **SMALL)))
    wide = returns.pivot(on="symbol", index="date", values="ret").drop("date").to_numpy()
    corr = np.corrcoef(wide, rowvar=False)
    assert corr[np.triu_indices_from(corr, 1)].mean() > 0.1


def test_splits_show_in_close_but_not_in_adj_close() -> None:
    frame = _all(SyntheticSource(seed=7, n_symbols=50))
    ratio = frame.sort("symbol", "date").with_columns(
        close_ratio=(pl.col("close") / pl.col("close").shift(1)).over("symbol"),
        factor_ratio=((pl.col("adj_close") / pl.col("close")) / (pl.col("adj_close") / pl.col("close")).shift(1)).over(
            "symbol"
        ),
    )
    splits = ratio.filter((pl.col("factor_ratio") - 1).abs() > 1e-9)
    assert 20 <= splits.height <= 120  # ~0.1 per symbol-year over 12 years x 50 symbols
    assert set(np.round(splits["factor_ratio"].to_numpy(), 9)) <= {2.0, 3.0, 4.0}
    # On a split day close falls by about the ratio; adj_close moves like any other day.
    moves = splits.with_columns(adj=(pl.col("close_ratio") * pl.col("factor_ratio")))
    assert (moves["close_ratio"] < 0.7).all()
    assert moves["adj"].is_between(0.7, 1.4).all()
    last = frame.filter(pl.col("date") == frame["date"].max())
    np.testing.assert_allclose(last["adj_close"].to_numpy(), last["close"].to_numpy())


def test_ohlc_and_volume_are_consistent_without_defects() -> None:
    frame = _all(SyntheticSource(seed=9, **SMALL))
    assert (frame["high"] >= frame.select(pl.max_horizontal("open", "close")).to_series()).all()
    assert (frame["low"] <= frame.select(pl.min_horizontal("open", "close")).to_series()).all()
    assert (frame.select(pl.min_horizontal("open", "high", "low", "close", "adj_close")).to_series() > 0).all()
    assert (frame["volume"] > 0).all() and (frame["volume"] == frame["volume"].round()).all()
    assert frame.select("date", "symbol").is_unique().all()
    assert SyntheticSource(seed=9, **SMALL).injected_defects().is_empty()


def test_regime_shift_raises_volatility_visibly() -> None:
    source = SyntheticSource(seed=2, n_symbols=40, start="2018-01-02", end="2021-12-31", regime_shift_date="2020-01-02")
    returns = _log_returns(_all(source))
    before = returns.filter(pl.col("date") < dt.date(2020, 1, 2))["ret"].std()
    after = returns.filter(pl.col("date") > dt.date(2020, 1, 2))["ret"].std()
    assert 1.6 < after / before < 2.6


def _mean_rank_ic(prices: pl.DataFrame) -> float:
    forward = prices.sort("symbol", "date").with_columns(
        fwd=(pl.col("adj_close").log().shift(-1) - pl.col("adj_close").log()).over("symbol")
    )
    joined = planted_predictor(prices).join(forward.select("date", "symbol", "fwd"), on=["date", "symbol"]).drop_nulls()
    daily = joined.group_by("date").agg(ic=pl.corr("predictor", "fwd", method="spearman"))
    return float(daily["ic"].mean())


@pytest.mark.parametrize("strength", [0.0, 0.1])
def test_planted_signal_has_the_requested_rank_ic(strength: float) -> None:
    source = SyntheticSource(seed=21, n_symbols=100, start="2020-01-02", end="2021-12-31", signal_strength=strength)
    prices = _all(source)
    assert prices["date"].n_unique() >= 500
    assert _mean_rank_ic(prices) == pytest.approx(strength, abs=0.03)


def test_planted_predictor_golden_values() -> None:
    days = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10)]
    prices = pl.DataFrame(
        {
            "date": days * 2,
            "symbol": ["A"] * 7 + ["B"] * 7,
            "adj_close": [100, 101, 102, 103, 104, 110, 111] + [50, 50, 50, 50, 50, 50, 49],
        }
    )
    out = planted_predictor(prices)
    assert out.columns == ["date", "symbol", "predictor"]
    assert out.filter(pl.col("date") < dt.date(2024, 1, 9))["predictor"].null_count() == 10
    # two symbols: z-scores are +1 / -1 whenever the 5-session returns differ
    assert out.filter(pl.col("date") >= dt.date(2024, 1, 9))["predictor"].to_list() == [1.0, -1.0, 1.0, -1.0]


def test_defects_are_listed_and_present_in_the_data() -> None:
    source = SyntheticSource(defects=True)
    start, end = dt.date(2024, 1, 2), dt.date(2024, 12, 31)
    frame = source.fetch(start, end)
    clean = SyntheticSource().fetch(start, end)
    defects = source.injected_defects(start, end)
    assert defects.columns == ["date", "symbol", "kind"]
    assert 5 <= defects.height <= 20
    assert source.injected_defects().height > defects.height  # the whole simulated window
    keyed = frame.join(defects, on=["date", "symbol"], how="inner")
    for kind, rows in keyed.group_by("kind"):
        if kind[0] == "high_below_low":
            assert (rows["high"] < rows["low"]).all()
        if kind[0] == "duplicate_row":
            assert rows.height == 2 * rows.select("date", "symbol").n_unique()
    missing = defects.filter(pl.col("kind") == "missing_row")
    assert frame.join(missing, on=["date", "symbol"], how="semi").is_empty()
    n_dup = defects.filter(pl.col("kind") == "duplicate_row").height
    assert frame.height == clean.height - missing.height + n_dup


def test_bad_ticks_spike_one_row_and_drops_persist() -> None:
    source = SyntheticSource(defects=0.01, **SMALL)
    defects = source.injected_defects()
    assert set(defects["kind"]) == {"bad_tick", "high_below_low", "duplicate_row", "missing_row", "drop_without_split"}
    # level = defective close / clean close; a defect shows as a jump of that level
    # (no symbol has defects on two consecutive sessions)
    level = (
        _all(source)
        .unique(maintain_order=True)
        .join(_all(SyntheticSource(**SMALL)), on=["date", "symbol"], suffix="_clean")
        .sort("symbol", "date")
        .with_columns(level=pl.col("close") / pl.col("close_clean"))
        .with_columns(
            jump=(pl.col("level") / pl.col("level").shift(1)).over("symbol"),
            next_jump=(pl.col("level").shift(-1) / pl.col("level")).over("symbol"),
        )
    )
    ticks = level.join(defects.filter(pl.col("kind") == "bad_tick"), on=["date", "symbol"], how="semi")
    drops = level.join(defects.filter(pl.col("kind") == "drop_without_split"), on=["date", "symbol"], how="semi")
    assert ticks.height > 0 and drops.height > 0
    jumps = ticks["jump"].to_numpy()
    assert np.all(np.isclose(jumps, 10.0) | np.isclose(jumps, 0.1))
    np.testing.assert_allclose(ticks["jump"] * ticks["next_jump"], 1.0)  # back the next session
    np.testing.assert_allclose(drops["jump"], 0.1)
    np.testing.assert_allclose(drops["next_jump"].drop_nulls(), 1.0)  # stays down
