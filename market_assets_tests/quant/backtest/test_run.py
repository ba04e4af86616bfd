"""The per-period call: honesty on a random walk, a deliberate leak, chaining, the data contract."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from market_assets.quant.backtest import (
    BacktestConfig, BacktestState, ClassSizes, CostModel, ExecutionConfig, Limits, LongFlat, TopKDropout,
    VolatilityTarget, run_backtest,
)
from market_assets.quant.backtest.overfitting import detect_impossible_sharpe
from market_assets.quant.labels import compute_labels
from market_assets.sources.synthetic import planted_predictor

from .conftest import synthetic_prices

LONG_SHORT = BacktestConfig(strategy=TopKDropout(k=5, n_drop=5), execution=ExecutionConfig(fill="close"))


@pytest.fixture(scope="module")
def random_walk() -> pl.DataFrame:
    """30 symbols over three years of an unpredictable market (signal 0)."""
    return synthetic_prices(30, "2018-01-02", "2020-12-31", signal=0.0, seed=21)


def _as_predictions(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.select("date", "symbol", pl.col(column).alias("prediction"), pl.lit(1).alias("horizon")).drop_nulls()


def test_random_walk_sharpe_interval_contains_zero(random_walk):
    predictions = _as_predictions(planted_predictor(random_walk), "predictor")
    result = run_backtest(predictions, random_walk, LONG_SHORT)
    m = result.metrics
    assert m["sharpe_ci_low"] < 0.0 < m["sharpe_ci_high"]
    assert m["impossible_sharpe"] == 0.0
    assert m["gross_exposure"] == pytest.approx(1.0, abs=0.01)  # the book did trade


def test_a_signal_shifted_into_the_future_is_flagged(random_walk):
    labels = compute_labels(random_walk, horizons=[1], class_thresholds=(-0.02, -0.01, 0.01, 0.02))
    # fwd_ret_1 dated t is close t -> close t+1: a fill at t+1's close cannot earn it (no leak) ...
    honest = run_backtest(_as_predictions(labels, "fwd_ret_1"), random_walk, LONG_SHORT)
    # ... but dated one session earlier it is exactly the return the position earns: a leak
    leaked = labels.with_columns(pl.col("fwd_ret_1").shift(-1).over("symbol", order_by="date"))
    cheat = run_backtest(_as_predictions(leaked, "fwd_ret_1"), random_walk, LONG_SHORT)
    assert honest.metrics["sharpe_ci_low"] < 0.0 < honest.metrics["sharpe_ci_high"]
    verdict = detect_impossible_sharpe(cheat.simulation.returns[1:])
    assert verdict.impossible and verdict.sharpe > 10
    assert cheat.metrics["impossible_sharpe"] == 1.0


def test_chained_periods_equal_one_run():
    prices = synthetic_prices(20, "2020-01-02", "2021-06-30", signal=0.1, seed=4)
    predictions = _as_predictions(planted_predictor(prices), "predictor")
    config = BacktestConfig(
        strategy=TopKDropout(k=4, n_drop=1), sizing=VolatilityTarget(target=0.2, window=20),
        limits=Limits(max_weight=0.3, max_gross=1.5),
        execution=ExecutionConfig(costs=CostModel(commission_bps=5.0, min_commission=2.0, borrow_bps_per_year=80.0),
                                  participation=0.002, stop_loss=0.08),
    )
    whole = run_backtest(predictions, prices, config)
    dates = sorted(prices["date"].unique().to_list())
    cut = dates[150]
    first = run_backtest(predictions.filter(pl.col("date") <= cut), prices.filter(pl.col("date") <= cut), config)
    state = BacktestState.from_frame(first.state.to_frame())  # as stored between two asset runs
    second = run_backtest(predictions, prices.filter(pl.col("date") >= dates[120]), config, state=state)
    nav = np.concatenate([first.daily["nav"].to_numpy(), second.daily["nav"].to_numpy()[1:]])
    np.testing.assert_allclose(nav, whole.daily["nav"].to_numpy(), rtol=1e-12)
    assert whole.daily["nav"][-1] != pytest.approx(whole.daily["nav"][0], rel=1e-3)


@pytest.mark.parametrize("fill", ["open", "close"])
def test_single_sessions_chained_equal_one_run_with_missing_bars_on_the_chaining_close(fill):
    prices = synthetic_prices(8, "2021-01-04", "2021-03-31", signal=0.1, seed=6)
    dates = sorted(prices["date"].unique().to_list())
    # held names without a bar: on one close (10), two closes in a row (20, 21), and the last session (-1)
    holes = [(dates[10], "SYN001"), (dates[20], "SYN003"), (dates[21], "SYN003"), (dates[-1], "SYN005")]
    prices = prices.filter(~pl.any_horizontal([(pl.col("date") == d) & (pl.col("symbol") == s) for d, s in holes]))
    predictions = _as_predictions(planted_predictor(prices), "predictor").with_columns(pl.lit(1.0).alias("prediction"))
    config = BacktestConfig(execution=ExecutionConfig(fill=fill, costs=CostModel(commission_bps=5.0)))
    whole = run_backtest(predictions, prices, config)
    first = run_backtest(predictions.filter(pl.col("date") <= dates[1]),
                         prices.filter(pl.col("date") <= dates[1]), config)
    chained, state = first.daily["nav"].to_list(), first.state
    for previous, session in zip(dates[1:], dates[2:]):  # one call per session, as the backtest asset does
        window = prices.filter(pl.col("date").is_between(previous, session))
        step = run_backtest(predictions.filter(pl.col("date") <= session), window, config,
                            state=BacktestState.from_frame(state.to_frame()))
        chained.append(step.daily["nav"][-1])
        state = step.state
    np.testing.assert_allclose(chained, whole.daily["nav"].to_numpy(), rtol=1e-12)
    held = whole.positions.filter(pl.col("weight") != 0)
    assert all(held.filter((pl.col("date") == d) & (pl.col("symbol") == s)).height for d, s in holes[:3])


def test_result_frames_and_class_predictions(random_walk):
    classes = random_walk.select(
        "date", "symbol", (pl.col("close").hash(1) % 5).cast(pl.Float64).alias("prediction"),
        pl.lit(0.7).alias("confidence"), pl.lit(5).alias("horizon"))
    result = run_backtest(classes, random_walk, BacktestConfig(strategy=ClassSizes(), horizon=5))
    assert result.daily.columns == ["date", "nav", "return", "benchmark_return", "gross_exposure",
                                    "net_exposure", "turnover", "costs", "borrow"]
    assert result.positions.columns == ["date", "symbol", "target", "weight", "trade"]
    assert result.daily["date"].dtype == pl.Date and result.daily.height == random_walk["date"].n_unique()
    assert set(result.metrics) >= {"sharpe", "sortino", "calmar", "max_drawdown", "var_95", "cvar_95", "alpha",
                                   "beta", "turnover", "deflated_sharpe", "sharpe_ci_low", "max_drawdown_ci_high"}


def test_the_data_contract_is_enforced(random_walk):
    predictions = _as_predictions(planted_predictor(random_walk), "predictor")
    late = predictions.with_columns(pl.col("date").dt.offset_by("3y"))
    with pytest.raises(ValueError, match="is not a session of the price grid"):
        run_backtest(late, random_walk, BacktestConfig(strategy=LongFlat()))
    with pytest.raises(ValueError, match="duplicate row for session"):
        run_backtest(pl.concat([predictions, predictions]), random_walk)
    two = pl.concat([predictions, predictions.with_columns(pl.lit(5).alias("horizon"))])
    with pytest.raises(ValueError, match="pass horizon= to choose one"):
        run_backtest(two, random_walk, BacktestConfig(horizon=None))


def test_a_sweep_on_a_random_walk_is_judged_overfit(random_walk):
    from market_assets.quant.backtest.sweep import run_sweep

    predictions = _as_predictions(planted_predictor(random_walk), "predictor")
    configs = [BacktestConfig(strategy=TopKDropout(k=k, n_drop=d), execution=ExecutionConfig(fill="close"))
               for k in (3, 5, 8) for d in (1, 3)]
    sweep = run_sweep(predictions, random_walk, configs, n_blocks=10)
    assert sweep.returns.shape == (random_walk["date"].n_unique() - 1, 6)
    assert sweep.sharpes[sweep.best] == np.nanmax(sweep.sharpes)
    assert sweep.deflated_sharpe < 0.95  # the best of six noise books is not significant once deflated
    assert sweep.overfitting.pbo > 0.2
