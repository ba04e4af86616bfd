"""Metrics against empyrical-reloaded (where the definitions agree), golden values where they differ."""

from __future__ import annotations

import empyrical
import numpy as np
import pytest

from market_assets.quant.backtest import metrics as mx


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.standard_t(4, size=(750, 3)) * 0.01 + 0.0004


def test_metrics_equal_empyrical(returns):
    for j in range(returns.shape[1]):
        r = returns[:, j]
        pairs = [
            (mx.total_return(r), empyrical.cum_returns_final(r)),
            (mx.annual_return(r), empyrical.annual_return(r)),
            (mx.annual_volatility(r), empyrical.annual_volatility(r)),
            (mx.sharpe_ratio(r), empyrical.sharpe_ratio(r)),
            (mx.sortino_ratio(r), empyrical.sortino_ratio(r)),
            (mx.max_drawdown(r), empyrical.max_drawdown(r)),
            (mx.calmar_ratio(r), empyrical.calmar_ratio(r)),
            (mx.value_at_risk(r), empyrical.value_at_risk(r, cutoff=0.05)),
            (mx.conditional_value_at_risk(r), empyrical.conditional_value_at_risk(r, cutoff=0.05)),
        ]
        for ours, theirs in pairs:
            assert ours == pytest.approx(theirs, abs=1e-9, rel=1e-9)
        alpha, beta = mx.alpha_beta(r, returns[:, 0] * 0.5 + returns[:, 2] * 0.5)
        e_alpha, e_beta = empyrical.alpha_beta(r, returns[:, 0] * 0.5 + returns[:, 2] * 0.5)
        assert alpha == pytest.approx(e_alpha, abs=1e-9)
        assert beta == pytest.approx(e_beta, abs=1e-9)


def test_a_first_day_loss_is_a_drawdown():
    # empyrical-reloaded >= 0.7 anchors the peak at the start as we do; older empyrical did not
    r = np.array([-0.1, 0.05, 0.02])
    assert mx.max_drawdown(r) == pytest.approx(-0.1)
    assert empyrical.max_drawdown(r) == pytest.approx(-0.1)


def test_batches_equal_columns(returns):
    for fn in (mx.total_return, mx.sharpe_ratio, mx.sortino_ratio, mx.max_drawdown, mx.max_drawdown_duration,
               mx.calmar_ratio, mx.value_at_risk, mx.conditional_value_at_risk, mx.win_rate,
               mx.profit_factor, mx.expectancy):
        batch = fn(returns)
        assert batch.shape == (3,)
        np.testing.assert_allclose(batch, [fn(returns[:, j]) for j in range(3)], rtol=1e-12)


def test_session_statistics_golden():
    r = np.array([0.02, -0.01, 0.0, 0.03, -0.02, 0.0])
    assert mx.win_rate(r) == pytest.approx(0.5)  # 2 up of 4 moving sessions
    assert mx.profit_factor(r) == pytest.approx(0.05 / 0.03)
    assert mx.expectancy(r) == pytest.approx(0.02 / 4)
    assert np.isnan(mx.profit_factor(np.array([0.01, 0.02])))  # no loss: undefined, not 0


def test_drawdown_duration_counts_sessions_under_water():
    r = np.array([0.1, -0.05, -0.05, 0.2, -0.01, 0.0, 0.0, 0.005, 0.02])
    # under water at sessions 1, 2 (recovered at 3), then 4 to 7 (0.99 * 1.005 < 1), recovered at 8
    assert mx.max_drawdown_duration(r) == 4
    assert mx.max_drawdown_duration(np.array([0.01, 0.02])) == 0


def test_undefined_values_are_nan_not_zero():
    flat = np.zeros(10)
    assert np.isnan(mx.sharpe_ratio(flat))
    assert np.isnan(mx.calmar_ratio(flat))
    assert np.isnan(mx.win_rate(flat))
    with pytest.raises(ValueError, match="NaN or inf"):
        mx.sharpe_ratio(np.array([0.01, np.nan]))


def test_the_summary_equals_the_single_metrics(small_prices):
    from market_assets.quant.backtest import CostModel, ExecutionConfig, market_panel, simulate
    from market_assets.quant.backtest.summary import buy_and_hold_returns, performance_summary

    panel = market_panel(small_prices)
    rng = np.random.default_rng(0)
    sim = simulate(rng.normal(0, 0.2, (panel.shape[0], 2, panel.shape[1])), panel,
                   ExecutionConfig(costs=CostModel(commission_bps=5.0)))
    summary = performance_summary(sim, buy_and_hold_returns(panel))
    r = sim.returns[1:]
    singles = {"sharpe": mx.sharpe_ratio, "sortino": mx.sortino_ratio, "calmar": mx.calmar_ratio,
               "annual_volatility": mx.annual_volatility, "win_rate": mx.win_rate, "profit_factor": mx.profit_factor,
               "expectancy": mx.expectancy, "max_drawdown": mx.max_drawdown, "var_95": mx.value_at_risk,
               "cvar_95": mx.conditional_value_at_risk, "annual_return": mx.annual_return}
    for name, fn in singles.items():
        np.testing.assert_allclose(summary[name], fn(r), rtol=1e-12, err_msg=name)
    assert summary["sharpe"].shape == (2,)
    np.testing.assert_allclose(summary["beta"], mx.alpha_beta(r, buy_and_hold_returns(panel)[1:])[1])
