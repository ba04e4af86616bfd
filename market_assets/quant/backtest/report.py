"""The whole walk-forward from its stored sessions: metrics, intervals, a cost sweep, quantile returns, charts.

Pure (no Dagster, no I/O): the ``backtest_summary`` asset reads the stored
sessions and calls :func:`walk_forward_report` and :func:`render_charts`;
a notebook can call them on any :attr:`.run.BacktestResult.daily` frame.
Metric conventions are those of :mod:`.metrics`; charts are PNG bytes drawn
on matplotlib's Agg canvas (no pyplot, imported where drawn).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from market_assets.quant.backtest import metrics as mx
from market_assets.quant.backtest.bootstrap import bootstrap_intervals
from market_assets.quant.backtest.factor import factor_tear_sheet
from market_assets.quant.backtest.overfitting import deflated_sharpe_ratio, detect_impossible_sharpe
from market_assets.quant.backtest.run import BacktestConfig
from market_assets.quant.backtest.sweep import run_sweep


@dataclass(frozen=True)
class WalkForwardReport:
    """What the summary shows: metrics, the cost sweep, quantile returns and a written summary."""

    metrics: dict[str, float]  #: walk-forward metrics, sweep and factor statistics (floats, NaN if undefined)
    sweep: pl.DataFrame  #: cost_bps, sharpe, sortino, total_return, annual_return, max_drawdown (empty if skipped)
    quantile_returns: pl.DataFrame  #: factor.py's pooled quantile returns at the traded horizon
    markdown: str  #: the summary a person reads first


def walk_forward_report(
    daily: pl.DataFrame, predictions: pl.DataFrame, prices: pl.DataFrame, config: BacktestConfig, *,
    sweep_cost_bps: Sequence[float], n_resamples: int = 1000, quantiles: int = 5, description: str = "",
) -> WalkForwardReport:
    """Metrics of the stored sessions, the cost sweep and quantile returns over the same window.

    Parameters
    ----------
    daily
        The stored sessions, sorted: ``date, nav, return, benchmark_return, turnover, gross_exposure,
        costs, borrow`` (:attr:`.run.BacktestResult.daily` rows).
    predictions
        Long-format predictions of the stored sessions (``date, symbol, horizon, prediction``).
    prices
        From the session before the first stored one (the walk-forward's starting close) to
        ``config.horizon`` sessions after the last (forward returns of the factor analysis).
    config
        The traded configuration; the sweep re-runs it at each of ``sweep_cost_bps``.
    sweep_cost_bps, n_resamples, quantiles
        Cost levels of :func:`cost_sweep`, bootstrap resamples, prediction quantiles.
    description
        How the walk-forward traded (strategy, costs, fills, horizon), for the written summary.
    """
    last = daily["date"].max()
    metrics = walk_forward_metrics(daily, n_resamples=n_resamples)
    sweep, swept = cost_sweep(predictions, prices.filter(pl.col("date") <= last), config, sweep_cost_bps,
                              daily["return"].to_numpy())
    pooled, factor = quantile_returns(predictions, prices, config.horizon, quantiles)
    metrics |= swept | factor
    return WalkForwardReport(metrics, sweep, pooled, summary_markdown(daily, metrics, sweep, description))


def walk_forward_metrics(daily: pl.DataFrame, *, n_resamples: int = 1000, random_state: int = 0) -> dict[str, float]:
    """Metrics of the stored session returns (conventions of :mod:`market_assets.quant.backtest.metrics`).

    Every stored session counts, the walk-forward's first (flat, return 0) included, as in a single
    backtest started at the previous close.  ``deflated_sharpe`` is the probabilistic Sharpe ratio
    against 0 (one configuration); ``*_ci_*`` are 95% circular block-bootstrap intervals; alpha and
    beta are against ``benchmark_return``; ``cost_drag`` sums commission, slippage and borrow.
    """
    r, b = daily["return"].to_numpy(), daily["benchmark_return"].to_numpy()
    drawdown, duration = mx.drawdown_statistics(r)
    var, cvar = mx.tail_risk(r, 0.95)
    alpha, beta = mx.alpha_beta(r, b)
    out = {
        "total_return": mx.total_return(r), "annual_return": mx.annual_return(r),
        "annual_volatility": mx.annual_volatility(r), "sharpe": mx.sharpe_ratio(r), "sortino": mx.sortino_ratio(r),
        "calmar": mx.calmar_ratio(r), "max_drawdown": drawdown, "max_drawdown_duration": duration,
        "var_95": var, "cvar_95": cvar, "win_rate": mx.win_rate(r), "profit_factor": mx.profit_factor(r),
        "alpha": alpha, "beta": beta, "deflated_sharpe": deflated_sharpe_ratio(r),
        "benchmark_total_return": mx.total_return(b), "benchmark_sharpe": mx.sharpe_ratio(b),
        "mean_turnover": daily["turnover"].mean(), "mean_gross_exposure": daily["gross_exposure"].mean(),
        "cost_drag": (daily["costs"] + daily["borrow"]).sum(),
    }
    for name, interval in bootstrap_intervals(r, n_resamples=n_resamples, random_state=random_state).items():
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = interval.low, interval.high
    if len(r) >= 60:
        out["impossible_sharpe"] = float(detect_impossible_sharpe(r).impossible)
    return {name: float(value) for name, value in out.items()}


def cost_sweep(
    predictions: pl.DataFrame, prices: pl.DataFrame, config: BacktestConfig, levels_bps: Sequence[float],
    stored_returns: np.ndarray,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """The walk-forward re-run in one backtest per cost level (:func:`.sweep.run_sweep`), PBO included.

    A level replaces ``config``'s commission (:func:`at_cost`).  Skipped (empty frame) with fewer
    than two levels or four sessions (CSCV needs two blocks of two).  ``single_run_return_gap`` is
    the largest difference between the stored session returns and the re-run at the stored cost: 0
    up to rounding unless predictions or prices changed since.
    """
    levels = sorted(set(levels_bps))
    n_blocks = min(16, len(stored_returns) // 4 * 2)
    if len(levels) < 2 or n_blocks < 2:
        return pl.DataFrame(schema={"cost_bps": pl.Float64, "sharpe": pl.Float64}), {}
    result = run_sweep(predictions, prices, [at_cost(config, c) for c in levels], n_blocks=n_blocks)
    r = result.returns
    sweep = pl.DataFrame({"cost_bps": levels, "sharpe": result.sharpes, "sortino": mx.sortino_ratio(r),
                          "total_return": mx.total_return(r), "annual_return": mx.annual_return(r),
                          "max_drawdown": mx.max_drawdown(r)})
    out = {f"sharpe_at_{c:g}bps": float(s) for c, s in zip(levels, result.sharpes)}
    out |= {"sweep_pbo": result.overfitting.pbo, "sweep_deflated_sharpe": result.deflated_sharpe}
    stored_cost = config.execution.costs.commission_bps
    if stored_cost in levels and r.shape[0] == len(stored_returns):
        out["single_run_return_gap"] = float(np.max(np.abs(r[:, levels.index(stored_cost)] - stored_returns)))
    return sweep, out


def at_cost(config: BacktestConfig, commission_bps: float) -> BacktestConfig:
    """``config`` with its commission (basis points of traded value) replaced by ``commission_bps``."""
    costs = replace(config.execution.costs, commission_bps=commission_bps)
    return replace(config, execution=replace(config.execution, costs=costs))


def quantile_returns(
    predictions: pl.DataFrame, prices: pl.DataFrame, horizon: int, quantiles: int
) -> tuple[pl.DataFrame, dict[str, float]]:
    """:func:`.factor.factor_tear_sheet` of the predictions at ``horizon``: quantile returns, spread, rank IC."""
    factor = predictions.filter(pl.col("horizon") == horizon).select("date", "symbol", "prediction")
    q = max(2, min(quantiles, factor["symbol"].n_unique()))
    sheet = factor_tear_sheet(factor, prices, column="prediction", quantiles=q, quantile_horizons=(horizon,),
                              horizons=(horizon,))
    pooled, decay = sheet.quantile_returns, sheet.ic_decay
    per_session = pooled["mean_return_per_session"]
    out = {"quantile_spread_per_session": float(per_session[-1] - per_session[0]) if pooled.height else float("nan")}
    if decay.height:
        out |= {"mean_rank_ic": float(decay["mean_rank_ic"][0]), "rank_icir": float(decay["rank_icir"][0])}
    return pooled, out


def summary_markdown(daily: pl.DataFrame, m: dict[str, float], sweep: pl.DataFrame, description: str) -> str:
    """The written summary: the strategy against its benchmark, the cost sweep and the predictions' quality."""
    lines = [
        f"**Walk-forward {daily['date'][0]} … {daily['date'][-1]}** ({daily.height} sessions): {description}.",
        "",
        "| | strategy | benchmark (equal weight) |", "|---|---|---|",
        f"| total return | {m['total_return']:.2%} | {m['benchmark_total_return']:.2%} |",
        f"| Sharpe (95% CI) | {m['sharpe']:.2f} [{m['sharpe_ci_low']:.2f}, {m['sharpe_ci_high']:.2f}] | "
        f"{m['benchmark_sharpe']:.2f} |",
        f"| Sortino / Calmar | {m['sortino']:.2f} / {m['calmar']:.2f} | |",
        f"| max drawdown | {m['max_drawdown']:.2%} ({m['max_drawdown_duration']:.0f} sessions) | |",
        f"| VaR / CVaR 95% (session) | {m['var_95']:.2%} / {m['cvar_95']:.2%} | |",
        f"| alpha / beta | {m['alpha']:.2%} / {m['beta']:.2f} | |",
        f"| deflated Sharpe (P[SR > 0]) | {m['deflated_sharpe']:.2f} | |",
        f"| mean turnover / cost drag | {m['mean_turnover']:.2f} / {m['cost_drag']:.2%} | |",
    ]
    if sweep.height:
        lines += ["", f"Cost sweep: Sharpe {sweep['sharpe'][0]:.2f} at {sweep['cost_bps'][0]:g} bps to "
                  f"{sweep['sharpe'][-1]:.2f} at {sweep['cost_bps'][-1]:g} bps; PBO {m['sweep_pbo']:.2f}, "
                  f"deflated Sharpe of the best {m['sweep_deflated_sharpe']:.2f}."]
    if "mean_rank_ic" in m:
        lines += ["", f"Predictions: top minus bottom quantile {m['quantile_spread_per_session'] * 1e4:.1f} bps a "
                  f"session, mean rank IC {m['mean_rank_ic']:.3f} (ICIR {m['rank_icir']:.2f})."]
    return "\n".join(lines)


def render_charts(daily: pl.DataFrame, report: WalkForwardReport, initial_capital: float) -> dict[str, bytes]:
    """PNG bytes of the equity curve, drawdown, monthly returns and quantile returns (Agg canvas, no pyplot)."""
    dates, r = daily["date"].to_list(), daily["return"].to_numpy()
    fig, ax = _figure(dates=True)
    ax.plot(dates, daily["nav"].to_numpy() / initial_capital, label="strategy", color="#4c72b0")
    ax.plot(dates, np.cumprod(1.0 + daily["benchmark_return"].to_numpy()), label="benchmark (equal weight)",
            color="#999999")
    ax.set(title="Equity curve (growth of 1)", ylabel="NAV / initial capital")
    ax.legend(loc="upper left")
    charts = {"equity_curve": _png(fig)}
    fig, ax = _figure(dates=True)
    dd = mx.drawdowns(r)
    ax.fill_between(dates, dd, 0.0, color="#c44e52", alpha=0.6)
    ax.set(title=f"Drawdown (max {dd.min():.1%})", ylabel="NAV / running peak - 1")
    charts["drawdown"] = _png(fig)
    charts["monthly_returns"] = _monthly_chart(daily)
    charts["quantile_returns"] = _quantile_chart(report.quantile_returns)
    return charts


def _monthly_chart(daily: pl.DataFrame) -> bytes:
    monthly = daily.group_by(year=pl.col("date").dt.year(), month=pl.col("date").dt.month()).agg(
        ret=(1.0 + pl.col("return")).product() - 1.0)
    years = sorted(monthly["year"].unique().to_list())
    grid = np.full((len(years), 12), np.nan)
    for year, month, ret in monthly.iter_rows():
        grid[years.index(year), month - 1] = ret
    fig, ax = _figure(height=0.5 * len(years) + 1.6)
    limit = float(np.nanmax(np.abs(grid))) or 1e-9
    ax.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1%}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(12), ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"])
    ax.set_yticks(range(len(years)), [str(y) for y in years])
    ax.set_title("Monthly returns")
    return _png(fig)


def _quantile_chart(pooled: pl.DataFrame) -> bytes:
    fig, ax = _figure()
    if pooled.height:
        ax.bar(pooled["quantile"].to_numpy(), pooled["mean_return"].to_numpy() * 1e4,
               yerr=pooled["std_error"].fill_null(0.0).to_numpy() * 1e4, color="#55a868", capsize=3)
        ax.set_xticks(pooled["quantile"].to_list())
    ax.axhline(0.0, color="black", linewidth=0.8)
    horizon = pooled["horizon"][0] if pooled.height else "?"
    ax.set(title=f"Mean {horizon}-session forward return by prediction quantile (demeaned)",
           xlabel="quantile (1 = lowest prediction)", ylabel="bps")
    return _png(fig)


def _figure(width: float = 8.0, height: float = 3.2, *, dates: bool = False):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = Figure(figsize=(width, height), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if dates:
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return figure, axes


def _png(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_markdown(name: str, png: bytes) -> str:
    """The PNG embedded as a base64 data URI, which the Dagster UI's markdown renders."""
    return f"![{name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
