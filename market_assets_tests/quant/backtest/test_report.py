"""The walk-forward report without Dagster: metrics, the cost sweep re-running the backtest, charts."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import polars as pl
import pytest

from market_assets.quant.backtest import BacktestConfig, CostModel, ExecutionConfig, TopKDropout, run_backtest
from market_assets.quant.backtest import report
from market_assets.quant.backtest.report import at_cost, chart_markdown, render_charts, walk_forward_report
from market_assets.sources.synthetic import planted_predictor

from .conftest import synthetic_prices

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def walk_forward():
    prices = synthetic_prices(12, "2022-01-03", "2022-06-30", signal=0.3, seed=8)
    predictions = planted_predictor(prices).drop_nulls("predictor").select(
        "date", "symbol", pl.col("predictor").alias("prediction"), pl.lit(1).alias("horizon"))
    config = BacktestConfig(strategy=TopKDropout(k=3, n_drop=2),
                            execution=ExecutionConfig(costs=CostModel(commission_bps=10.0, borrow_bps_per_year=50.0)))
    traded = predictions.filter(pl.col("date") > prices["date"].min())
    result = run_backtest(traded, prices, config, n_resamples=50)
    return prices, traded, config, result.daily.slice(1)  # stored sessions: after the starting close


def test_the_report_module_is_pure():
    tree = ast.parse(inspect.getsource(report))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"dagster", "mlflow", "upath"}


def test_at_cost_replaces_only_the_commission(walk_forward):
    config = walk_forward[2]
    cheaper = at_cost(config, 2.5)
    assert cheaper.execution.costs == CostModel(commission_bps=2.5, borrow_bps_per_year=50.0)
    assert (cheaper.strategy, cheaper.execution.fill, cheaper.horizon) == (config.strategy, "open", 1)


def test_the_report_re_runs_the_stored_returns_and_sweeps_costs(walk_forward):
    prices, predictions, config, daily = walk_forward
    out = walk_forward_report(daily, predictions, prices, config, sweep_cost_bps=[25.0, 0.0, 10.0],
                              n_resamples=50, quantiles=4, description="top 3 long-short")
    m = out.metrics
    assert m["single_run_return_gap"] < 1e-12  # the sweep at the stored 10 bps is the stored backtest
    assert out.sweep["cost_bps"].to_list() == [0.0, 10.0, 25.0]
    assert m["sharpe_at_0bps"] > m["sharpe_at_10bps"] > m["sharpe_at_25bps"]
    r = daily["return"].to_numpy()
    assert m["total_return"] == pytest.approx(np.prod(1.0 + r) - 1.0, rel=1e-12)
    assert m["sharpe_ci_low"] < m["sharpe"] < m["sharpe_ci_high"]
    assert out.quantile_returns["quantile"].to_list() == [1, 2, 3, 4] and m["mean_rank_ic"] > 0
    assert "top 3 long-short." in out.markdown and "Cost sweep" in out.markdown


def test_charts_are_png_and_embed_as_markdown(walk_forward):
    prices, predictions, config, daily = walk_forward
    out = walk_forward_report(daily, predictions, prices, config, sweep_cost_bps=[10.0], n_resamples=20)
    assert out.sweep.is_empty() and "sweep_pbo" not in out.metrics  # one level: no sweep
    charts = render_charts(daily, out, config.execution.initial_capital)
    assert sorted(charts) == ["drawdown", "equity_curve", "monthly_returns", "quantile_returns"]
    assert all(png.startswith(PNG) for png in charts.values())
    assert chart_markdown("drawdown", charts["drawdown"]).startswith("![drawdown](data:image/png;base64,iVBOR")
