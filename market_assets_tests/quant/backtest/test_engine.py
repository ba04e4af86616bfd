"""The engine against a naive loop, its timing convention, missing bars, caps, stops and chaining."""

from __future__ import annotations

import numpy as np
import pytest

from market_assets.quant.backtest import CostModel, ExecutionConfig, MarketPanel, market_panel, simulate
from market_assets.quant.backtest.metrics import max_drawdown, sharpe_ratio, total_return

from .reference import reference_nav, reference_stats

COSTS = CostModel(commission_bps=7.0, slippage_bps=3.0, borrow_bps_per_year=150.0)


def _targets(shape: tuple[int, int], seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.15, shape)
    w[rng.random(shape) < 0.3] = 0.0
    return w


@pytest.mark.parametrize("fill", ["open", "close"])
@pytest.mark.parametrize("costs", [COSTS, CostModel(commission_bps=10.0, min_commission=25.0, slippage_bps=2.0)])
def test_engine_equals_a_loop_reference_with_costs_and_missing_bars(small_prices, fill, costs):
    panel = market_panel(small_prices)
    targets = _targets(panel.shape)
    sim = simulate(targets, panel, ExecutionConfig(fill=fill, costs=costs, initial_capital=1e6))
    navs = reference_nav(targets, panel.open, panel.close, fill=fill, capital=1e6,
                         commission_bps=costs.commission_bps, min_commission=costs.min_commission,
                         slippage_bps=costs.slippage_bps, borrow_bps=costs.borrow_bps_per_year)
    np.testing.assert_allclose(sim.nav, navs, rtol=1e-12)
    total, sharpe, mdd = reference_stats(navs)
    r = sim.returns[1:]
    assert total_return(r) == pytest.approx(total, abs=1e-9)
    assert sharpe_ratio(r) == pytest.approx(sharpe, abs=1e-9)
    assert max_drawdown(r) == pytest.approx(mdd, abs=1e-9)
    assert total != pytest.approx(0.0, abs=1e-3)  # the comparison is not between two flat books


def test_volume_cap_equals_the_loop_reference_and_binds(small_prices):
    panel = market_panel(small_prices)
    targets = _targets(panel.shape, seed=4)
    config = ExecutionConfig(costs=COSTS, participation=1e-4, initial_capital=5e6)
    sim = simulate(targets, panel, config)
    navs = reference_nav(targets, panel.open, panel.close, capital=5e6, commission_bps=7.0, slippage_bps=3.0,
                         borrow_bps=150.0, participation=1e-4, raw_price=panel.raw_open, volume=panel.volume)
    np.testing.assert_allclose(sim.nav, navs, rtol=1e-12)
    free = simulate(targets, panel, ExecutionConfig(costs=COSTS, initial_capital=5e6))
    assert np.abs(sim.weights - free.weights).max() > 0.01


def test_vectorised_path_equals_the_session_loop(small_prices):
    panel = market_panel(small_prices)
    targets = _targets(panel.shape, seed=2)
    targets[:, 1] = 0.0  # the symbol with missing bars stays flat: the vectorised path applies
    targets[:, 4] = 0.0
    for fill in ("open", "close"):
        fast = simulate(targets, panel, ExecutionConfig(fill=fill, costs=COSTS))
        loop = simulate(targets, panel, ExecutionConfig(fill=fill, costs=COSTS, min_trade_weight=1e-300))
        np.testing.assert_allclose(fast.nav, loop.nav, rtol=1e-13)
        np.testing.assert_allclose(fast.weights, loop.weights, atol=1e-13)
        np.testing.assert_allclose(fast.costs, loop.costs, atol=1e-15)
        np.testing.assert_allclose(fast.borrow, loop.borrow, atol=1e-15)
        for name in ("nav", "positions", "entry_ratio", "executed"):  # the state a next period starts from
            np.testing.assert_allclose(getattr(fast.final, name), getattr(loop.final, name), rtol=1e-12)


def test_a_signal_acts_only_from_the_next_session(small_prices):
    panel = market_panel(small_prices)
    base = _targets(panel.shape, seed=3)
    k = 20
    moved = base.copy()
    moved[k] += 0.3
    for fill in ("open", "close"):
        config = ExecutionConfig(fill=fill, costs=COSTS)
        a, b = simulate(base, panel, config), simulate(moved, panel, config)
        np.testing.assert_array_equal(a.nav[: k + 1], b.nav[: k + 1])
        assert a.nav[k + 1] != b.nav[k + 1] if fill == "open" else a.costs[k + 1] != b.costs[k + 1]
        last = base.copy()
        last[-1] = 1.0
        np.testing.assert_array_equal(simulate(last, panel, config).nav, a.nav)


def _panel(open_, close, volume=None) -> MarketPanel:
    open_, close = np.asarray(open_, float)[:, None], np.asarray(close, float)[:, None]
    volume = np.full(close.shape, 1e9) if volume is None else np.asarray(volume, float)[:, None]
    dates = np.datetime64("2024-01-01") + np.arange(len(close))
    return MarketPanel(dates, ("A",), open_, close, open_, close, volume)


def test_positions_earn_from_the_fill_price_onwards():
    panel = _panel([10, 11, 12, 13], [10, 12, 15, 13])
    w = np.array([[1.0], [1.0], [1.0], [1.0]])
    at_open = simulate(w, panel, ExecutionConfig(fill="open", initial_capital=100.0))
    np.testing.assert_allclose(at_open.nav, [100, 100 * 12 / 11, 100 * 15 / 11, 100 * 13 / 11])
    at_close = simulate(w, panel, ExecutionConfig(fill="close", initial_capital=100.0))
    np.testing.assert_allclose(at_close.nav, [100, 100, 100 * 15 / 12, 100 * 13 / 12])
    fee = simulate(w, panel, ExecutionConfig(fill="close", initial_capital=100.0,
                                             costs=CostModel(commission_bps=10.0)))
    np.testing.assert_allclose(fee.nav[1], 100 / 1.001)  # all in, fee paid from the same cash


def test_a_missing_bar_neither_fills_nor_moves_the_position():
    panel = _panel([10, 10, np.nan, 14, 15], [10, 11, np.nan, 14.5, 15])
    w = np.array([[1.0], [0.0], [0.0], [0.0], [0.0]])  # buy at 1's open, sell decided at 1's close
    sim = simulate(w, panel, ExecutionConfig(fill="open", initial_capital=100.0))
    # bar 2 is missing: the sale waits for bar 3's open; bar 2 is valued at bar 1's close
    np.testing.assert_allclose(sim.nav, [100, 110, 110, 140, 140])
    np.testing.assert_allclose(sim.weights[:, 0], [0, 1, 1, 0, 0])


def test_unfilled_volume_is_carried_or_dropped():
    panel = _panel([10] * 6, [10] * 6, volume=[100] * 6)  # cap = 0.5 * 10 * 100 = 500 a session
    w = np.array([[1.0], [1.0], [1.0], [0.5], [0.5], [0.5]])
    carry = simulate(w, panel, ExecutionConfig(initial_capital=1000.0, participation=0.5))
    np.testing.assert_allclose(carry.weights[:, 0], [0, 0.5, 1.0, 1.0, 0.5, 0.5])
    drop = simulate(w, panel, ExecutionConfig(initial_capital=1000.0, participation=0.5, unfilled="drop"))
    np.testing.assert_allclose(drop.weights[:, 0], [0, 0.5, 0.5, 0.5, 0.5, 0.5])


def test_stop_loss_closes_at_the_next_fill_and_waits_for_a_new_signal():
    close = [100, 100, 85, 80, 80, 90, 90]
    panel = _panel(close, close)
    w = np.array([[1.0], [1.0], [1.0], [1.0], [0.0], [1.0], [1.0]])
    sim = simulate(w, panel, ExecutionConfig(fill="close", initial_capital=100.0, stop_loss=0.1))
    # in at 1's close (100); 2's close is -15 %: out at 3's close (80); flat until the target went to 0 (row 4)
    # and back to 1 (row 5): in again at 6's close
    np.testing.assert_allclose(sim.weights[:, 0], [0, 1, 1, 0, 0, 0, 1])
    np.testing.assert_allclose(sim.nav, [100, 100, 85, 80, 80, 80, 80])


@pytest.mark.parametrize("extra", [{}, {"participation": 1e-3, "stop_loss": 0.05,
                                        "costs": CostModel(commission_bps=5.0, min_commission=30.0)}])
@pytest.mark.parametrize("cut", [25, 10, 11, 30])  # 10, 11 and 30: a held symbol has no bar on the chaining close
def test_two_chained_periods_equal_one_run(small_prices, extra, cut):
    panel = market_panel(small_prices)
    targets = _targets(panel.shape, seed=9)
    config = ExecutionConfig(**({"costs": COSTS} | extra))
    whole = simulate(targets, panel, config)
    head = MarketPanel(panel.dates[: cut + 1], panel.symbols, *(a[: cut + 1] for a in
                       (panel.open, panel.close, panel.raw_open, panel.raw_close, panel.volume)))
    first = simulate(targets[: cut + 1], head, config)
    second = simulate(targets[cut:], panel.slice(cut), config, first.final)
    np.testing.assert_allclose(np.concatenate([first.nav, second.nav[1:]]), whole.nav, rtol=1e-12)


def test_targets_of_the_wrong_shape_are_refused(small_prices):
    panel = market_panel(small_prices)
    with pytest.raises(ValueError, match=r"targets have shape \(3, 6\); expected \(\d+, \.\.\., 6\)"):
        simulate(np.zeros((3, 6)), panel, ExecutionConfig())
    with pytest.raises(ValueError, match="fill='noon'"):
        ExecutionConfig(fill="noon")


def test_isolated_symbols_are_independent_portfolios(small_prices):
    panel = market_panel(small_prices)
    targets = np.abs(_targets(panel.shape, seed=6)) * 4  # one symbol each: weights up to ~1
    config = ExecutionConfig(costs=COSTS)
    batch = simulate(targets, panel, config, isolated=True)
    assert batch.nav.shape == panel.shape and batch.weights.shape == panel.shape + (1,)
    for j in (0, 1, 4):  # 1 and 4 have missing bars: the loop path
        one = MarketPanel(panel.dates, (panel.symbols[j],), *(a[:, j:j + 1] for a in
                          (panel.open, panel.close, panel.raw_open, panel.raw_close, panel.volume)))
        alone = simulate(targets[:, j:j + 1], one, config)
        np.testing.assert_allclose(batch.nav[:, j], alone.nav, rtol=1e-13)
