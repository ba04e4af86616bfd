"""``output_dates`` restricts the returned rows only: values are bit-identical to filtering the full result."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from market_assets.quant.features import FEATURE_SPECS, compute_features
from market_assets.quant.indicators import engine, output

from .conftest import make_panel


def _ragged(prices: pl.DataFrame) -> pl.DataFrame:
    """Symbols starting late, ending early and with missing sessions, rows shuffled."""
    rng = np.random.default_rng(11)
    dates = prices["date"].unique().sort()
    ragged = prices.filter(
        ~((pl.col("symbol") == "SYM01") & (pl.col("date") < dates[90]))
        & ~((pl.col("symbol") == "SYM02") & (pl.col("date") > dates[-40]))
        & ~((pl.col("symbol") == "SYM00") & pl.Series(rng.random(prices.height) < 0.05))
    )
    return ragged.sample(fraction=1.0, shuffle=True, seed=3)


@pytest.fixture(scope="module")
def panels(panel: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {"balanced": panel, "ragged": _ragged(panel)}


def _assert_same(part: pl.DataFrame, full: pl.DataFrame, dates: list[dt.date]) -> None:
    expected = full.filter(pl.col("date").is_in(dates))
    assert part.columns == expected.columns
    for name in part.columns:
        assert part[name].equals(expected[name]), name


@pytest.mark.parametrize("kind", ["balanced", "ragged"])
def test_output_dates_equal_filtering_the_full_result_exactly(panels: dict[str, pl.DataFrame], kind: str) -> None:
    prices = panels[kind]
    full = compute_features(prices)
    dates = full["date"].unique().sort().to_list()
    for wanted in ([dates[-1]], [dates[0]], dates[::37], [dates[300], dates[-2], dates[300]], dates):
        _assert_same(compute_features(prices, output_dates=wanted), full, wanted)
    _assert_same(compute_features(prices, output_dates=set(dates[-5:])), full, dates[-5:])


def test_output_dates_with_a_feature_subset_and_absent_dates(panel: pl.DataFrame) -> None:
    names = ["obv", "sar", "ema_200", "rank_60", "qtlu_60", "cs_rank_rsi_14", "day_of_week", "wma_200"]
    full = compute_features(panel, features=names)
    last = full["date"].max()
    part = compute_features(panel, features=names, output_dates=[last, dt.date(1990, 1, 1)])
    _assert_same(part, full, [last])
    empty = compute_features(panel, features=names, output_dates=[])
    assert empty.height == 0 and empty.columns == full.columns and empty.schema == full.schema


@pytest.mark.parametrize("threads", [1, 3])
def test_chunking_and_threads_do_not_change_any_value(panels: dict[str, pl.DataFrame], threads: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny blocks / chunks (one symbol, a few dates) on 1 or 3 threads give bit-identical results."""
    for prices in panels.values():
        default = compute_features(prices)
        n_t = prices["date"].n_unique()
        monkeypatch.setattr(engine, "BLOCK_CELLS", 2 * n_t)
        monkeypatch.setattr(engine, "CHUNK_CELLS", n_t)
        monkeypatch.setattr(engine, "_threads", lambda: threads)
        monkeypatch.setattr(output, "DATE_BLOCK_CELLS", 7)
        small = compute_features(prices)
        monkeypatch.undo()
        for name in default.columns:
            assert small[name].equals(default[name]), name


def test_history_dependent_features_see_the_whole_history_with_output_dates() -> None:
    """OBV / A/D are cumulative from each symbol's first session even when one late date is asked for."""
    prices = make_panel(n_symbols=2, n_sessions=700, seed=4)
    last = prices["date"].max()
    part = compute_features(prices, features=["obv", "ad"], output_dates=[last])
    full = compute_features(prices, features=["obv", "ad"]).filter(pl.col("date") == last)
    assert part.equals(full)
    assert all(FEATURE_SPECS[n].history_dependent for n in ("obv", "ad"))
