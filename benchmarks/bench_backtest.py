"""Backtest engine speed and agreement against vectorbt, on one reproducible panel.

Needs the ``bench`` dependency group (vectorbt 1.0.0, plotly < 6), which the
default environment does not install::

    uv sync --frozen --group bench
    .venv/bin/python benchmarks/bench_backtest.py [--symbols 500] [--sessions 2520] [--fill close]

(``uv sync --frozen`` afterwards returns to the default groups.)

What is compared: every symbol is its own long/flat portfolio (all in when
the planted predictor of the synthetic market is above 0.5, flat otherwise),
10 bps fees per trade, no slippage.  Ours: ``simulate(..., isolated=True)``
then every metric of ``performance_summary``; vectorbt: ungrouped
``Portfolio.from_signals`` then total return, Sharpe, Sortino, max drawdown,
Calmar and annual volatility.  Matching conventions: our signal at ``t``
trades at ``t+1``'s fill, vectorbt fills on the signal's own bar, so its
entries/exits are shifted one session later and its ``price`` is our fill
price (the open or the close of ``t+1``); its year is set to 252 sessions.
Both sides get the same arrays in memory; warm runs are timed against warm
runs, in turns (best of ``--repeat`` each, so that other load on the machine
hits both alike); vectorbt's first call (numba JIT) is reported apart.  Prints the times, the ratio and the largest differences.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import polars as pl

from market_assets.quant.backtest import CostModel, ExecutionConfig, LongFlat, market_panel, simulate
from market_assets.quant.backtest import metrics as mx
from market_assets.quant.backtest.summary import performance_summary
from market_assets.sources import build_source
from market_assets.sources.synthetic import planted_predictor


def inputs(n_symbols: int, n_sessions: int) -> tuple:
    """Prices of the synthetic market (signal 0.05) and the long/flat signal, as a panel."""
    start = dt.date(2010, 1, 4)
    end = start + dt.timedelta(days=int(n_sessions * 365.25 / 252) + 30)
    prices = build_source("synthetic", n_symbols=n_symbols, signal_strength=0.05, seed=3, start=start,
                          end=end).fetch(start, end)
    dates = prices["date"].unique().sort()[:n_sessions]
    prices = prices.filter(pl.col("date").is_in(dates.implode()))
    panel = market_panel(prices)
    predictor = planted_predictor(prices)
    signal = np.full(panel.shape, np.nan)
    signal.reshape(-1)[:] = predictor.sort("date", "symbol")["predictor"].fill_null(np.nan).to_numpy()
    return panel, signal


def ours(panel, signal: np.ndarray, config: ExecutionConfig) -> tuple[np.ndarray, dict, np.ndarray]:
    targets = LongFlat(0.5).intents(signal)
    sim = simulate(targets, panel, config, isolated=True)
    return sim.nav[-1] / sim.nav[0] - 1.0, performance_summary(sim), sim.returns


def same_sessions(returns: np.ndarray) -> dict[str, np.ndarray]:
    """Our metrics over all T sessions, the first (zero) return included, as vectorbt counts them.

    :func:`performance_summary` leaves that anchor session out (T - 1 returns), which changes
    every annualised figure slightly; with the same sessions the definitions agree.
    """
    return {"sharpe": mx.sharpe_ratio(returns), "sortino": mx.sortino_ratio(returns),
            "max_drawdown": mx.max_drawdown(returns), "calmar": mx.calmar_ratio(returns),
            "annual_volatility": mx.annual_volatility(returns)}


def vectorbt_run(vbt, panel, signal: np.ndarray, fill: str, fees: float) -> tuple[np.ndarray, dict]:
    import pandas as pd

    index = pd.DatetimeIndex(panel.dates)
    close = pd.DataFrame(panel.close, index=index)
    price = pd.DataFrame(panel.open if fill == "open" else panel.close, index=index)
    long = np.nan_to_num(signal, nan=-np.inf) > 0.5
    entries = pd.DataFrame(np.vstack([np.zeros((1, long.shape[1]), bool), long[:-1]]), index=index)
    exits = ~entries
    exits.iloc[0] = False
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=price, fees=fees, init_cash=1e6, freq="1D")
    stats = {"total_return": pf.total_return(), "sharpe": pf.sharpe_ratio(), "sortino": pf.sortino_ratio(),
             "max_drawdown": pf.max_drawdown(), "calmar": pf.calmar_ratio(),
             "annual_volatility": pf.annualized_volatility()}
    return stats["total_return"].to_numpy(), {k: v.to_numpy() for k, v in stats.items()}


def interleaved(fns: dict, repeat: int) -> tuple[dict, dict]:
    """Best time and last output of each function, run in turns so that load on the machine hits all alike."""
    best, out = dict.fromkeys(fns, np.inf), {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    parser.add_argument("--fill", choices=("open", "close"), default="open")
    parser.add_argument("--fees-bps", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    panel, signal = inputs(args.symbols, args.sessions)
    print(f"panel {panel.shape[0]} sessions x {panel.shape[1]} symbols, fill at the next {args.fill}, "
          f"{args.fees_bps:g} bps fees (built in {time.perf_counter() - t0:.1f} s)")
    config = ExecutionConfig(fill=args.fill, costs=CostModel(commission_bps=args.fees_bps))
    looped = ExecutionConfig(fill=args.fill, costs=CostModel(commission_bps=args.fees_bps), min_trade_weight=1e-300)

    t0 = time.perf_counter()
    import vectorbt as vbt

    vbt.settings.returns["year_freq"] = "252 days"
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vectorbt_run(vbt, panel, signal, args.fill, args.fees_bps / 1e4)
    first_s = time.perf_counter() - t0

    fees = args.fees_bps / 1e4
    times, outs = interleaved({
        "ours": lambda: ours(panel, signal, config),
        "vectorbt": lambda: vectorbt_run(vbt, panel, signal, args.fill, fees),
        "loop": lambda: ours(panel, signal, looped),
    }, args.repeat)
    ours_s, vbt_s, loop_s = times["ours"], times["vectorbt"], times["loop"]
    (ours_total, ours_stats, ours_returns), (vbt_total, vbt_stats), (loop_total, _, _) = (
        outs["ours"], outs["vectorbt"], outs["loop"])
    print(f"vectorbt import {import_s:.2f} s, first call (numba JIT included) {first_s:.2f} s")
    print(f"warm, best of {args.repeat}, simulation + metrics:")
    print(f"  ours (vectorised path)  {ours_s * 1e3:8.1f} ms")
    print(f"  ours (session loop)     {loop_s * 1e3:8.1f} ms   (the path taken with caps, bands, stops, min commission)")
    print(f"  vectorbt from_signals   {vbt_s * 1e3:8.1f} ms")
    print(f"  ratio ours / vectorbt   {ours_s / vbt_s:8.3f}   (loop path {loop_s / vbt_s:.3f})")
    print(f"largest |difference| over {panel.shape[1]} symbols:")
    print(f"  total return            {np.max(np.abs(ours_total - vbt_total)):.3e}   "
          f"(loop path {np.max(np.abs(loop_total - vbt_total)):.3e})")
    matched = same_sessions(ours_returns)
    for name in ("sharpe", "sortino", "max_drawdown", "calmar", "annual_volatility"):
        print(f"  {name:<22}  {np.nanmax(np.abs(matched[name] - vbt_stats[name])):.3e}   (over T - 1 sessions, "
              f"as performance_summary reports: {np.nanmax(np.abs(ours_stats[name] - vbt_stats[name])):.1e})")
    print(f"mean total return {np.mean(ours_total):.4f}, mean Sharpe {np.nanmean(ours_stats['sharpe']):.3f}, "
          f"mean trades per symbol {np.mean(np.abs(np.diff(LongFlat(0.5).intents(signal), axis=0)).sum(axis=0)):.0f}")


if __name__ == "__main__":
    main()
