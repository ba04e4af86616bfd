"""Factor analysis against forward returns: the alphalens tear sheet as polars frames.

Conventions
-----------
* **Forward returns** over ``h`` sessions of the price grid:
  ``adj_close[t+h] / adj_close[t] - 1`` (rows of the grid, like alphalens'
  ``compute_forward_returns``); NaN when either bar is missing.  On a panel
  without holes this is ``fwd_ret_h`` of :mod:`market_assets.quant.labels`
  (which counts the symbol's own rows instead).
* **Clean rows** (alphalens' ``get_clean_factor_and_forward_returns``): a
  (date, symbol) enters the quantile statistics only with a finite factor
  and finite forward returns for *every* horizon of ``quantile_horizons``.
* **Quantiles** per date, as ``pandas.qcut(factor, q) + 1``: edges are the
  linear-interpolated quantiles of that date's clean factor values, bins are
  right-closed and the first includes its lower edge (1 = lowest factor).
  Tied edges leave some quantiles empty (alphalens raises instead).
* **Quantile returns** (``demeaned=True``: forward returns minus the date's
  mean over clean rows): the mean per (date, quantile), then the mean over
  dates of those means, with ``std_error = std(ddof=1) / sqrt(n_dates)``;
  ``mean_return_per_session = (1 + mean) ** (1 / h) - 1`` (alphalens'
  ``rate_of_return``).
* **Spread** per date: top quantile mean minus bottom quantile mean (the
  full long-short difference; alphalens-reloaded's
  ``compute_mean_returns_spread`` reports half of it).
* **Factor-weighted returns** (alphalens' ``factor_returns``, demeaned):
  weights ``(f - mean f) / sum |f - mean f|`` over a date's clean rows.
* **IC** over ``horizons`` (default 1..20, the IC decay) follows
  :mod:`market_assets.quant.ic`: per date Pearson and Spearman with pairwise
  deletion per horizon (not restricted to clean rows), ICIR per period.
* **Turnover** of quantile ``q`` at ``t``: the share of its names at ``t``
  that were not in it at the previous date (alphalens' ``quantile_turnover``
  with ``period=1``); NaN on the first date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from market_assets.quant.backtest.panel import market_panel, signal_panel
from market_assets.quant.ic import cross_sectional_ic, summarise_ic


@dataclass(frozen=True)
class FactorReport:
    """The tear sheet's tables (see module docstring for each convention)."""

    quantile_returns: pl.DataFrame  #: horizon, quantile, mean_return, std_error, mean_return_per_session, n_dates
    quantile_returns_by_date: pl.DataFrame  #: date, horizon, quantile, mean_return, n
    spread: pl.DataFrame  #: date, horizon, spread (top minus bottom quantile)
    factor_returns: pl.DataFrame  #: date, horizon, factor_return
    ic: pl.DataFrame  #: date, horizon, ic, rank_ic, n
    ic_decay: pl.DataFrame  #: horizon, mean_ic, std_ic, icir, mean_rank_ic, rank_icir, n_sessions
    turnover: pl.DataFrame  #: date, quantile, turnover


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """``close[t + h] / close[t] - 1`` on grid rows, NaN past the end."""
    out = np.full(close.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    return out


def factor_tear_sheet(
    factor: pl.DataFrame,
    prices: pl.DataFrame,
    *,
    column: str = "factor",
    quantiles: int = 5,
    quantile_horizons: Sequence[int] = (1, 5, 10),
    horizons: Sequence[int] = tuple(range(1, 21)),
    demeaned: bool = True,
) -> FactorReport:
    """Quantile returns, long-short spread, IC decay and quantile turnover of ``factor``.

    Parameters
    ----------
    factor
        Long format ``date, symbol, <column>`` (a prediction or a feature),
        known at each date's close.
    prices
        Long-format prices covering the factor's dates and ``max(horizons)``
        sessions after them.
    """
    if quantiles < 2:
        raise ValueError(f"quantiles={quantiles}; expected at least 2")
    panel = market_panel(prices)
    f = signal_panel(factor, panel, column=column)
    qh = sorted(set(quantile_horizons))
    fwd = {h: forward_returns(panel.close, h) for h in sorted(set(qh) | set(horizons))}
    clean = np.isfinite(f) & np.all([np.isfinite(fwd[h]) for h in qh], axis=0)
    bucket = _quantile_buckets(f, clean, quantiles)
    dates = pl.Series("date", panel.dates).cast(pl.Date)
    by_date, spread, weighted = [], [], []
    for h in qh:
        r = np.where(clean, fwd[h], np.nan)
        if demeaned:
            r = r - _row_mean(r, clean)[:, None]
        means, counts = _bucket_means(r, bucket, quantiles)
        by_date.append(_by_date_frame(dates, h, means, counts))
        spread.append(pl.DataFrame({"date": dates, "horizon": h, "spread": means[:, -1] - means[:, 0]}))
        weighted.append(pl.DataFrame({"date": dates, "horizon": h, "factor_return": _factor_weighted(f, fwd[h], clean)}))
    by_date_frame = pl.concat(by_date).drop_nulls("mean_return")
    ic, decay = _ic(panel, f, fwd, horizons)
    return FactorReport(
        quantile_returns=_pooled(by_date_frame),
        quantile_returns_by_date=by_date_frame,
        spread=pl.concat(spread).filter(pl.col("spread").is_not_nan()),
        factor_returns=pl.concat(weighted).filter(pl.col("factor_return").is_not_nan()),
        ic=ic,
        ic_decay=decay,
        turnover=_turnover(dates, bucket, quantiles),
    )


def _row_mean(r: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(mask, r, 0.0).sum(axis=1) / n, np.nan)


def _quantile_buckets(f: np.ndarray, clean: np.ndarray, q: int) -> np.ndarray:
    """1..q per clean cell, 0 elsewhere (pandas.qcut semantics per row)."""
    x = np.where(clean, f, np.nan)
    has = clean.any(axis=1)
    edges = np.full((f.shape[0], q + 1), np.nan)
    if has.any():
        edges[has] = np.nanquantile(x[has], np.linspace(0, 1, q + 1), axis=1).T
    inner = edges[:, 1:-1]
    bucket = (x[:, :, None] > inner[:, None, :]).sum(axis=2) + 1
    return np.where(clean, bucket, 0)


def _bucket_means(r: np.ndarray, bucket: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    means, counts = np.full((r.shape[0], q), np.nan), np.zeros((r.shape[0], q), np.int64)
    for k in range(1, q + 1):
        m = bucket == k
        counts[:, k - 1] = m.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[:, k - 1] = np.where(m, r, 0.0).sum(axis=1) / counts[:, k - 1]
    return np.where(counts > 0, means, np.nan), counts


def _by_date_frame(dates: pl.Series, h: int, means: np.ndarray, counts: np.ndarray) -> pl.DataFrame:
    T, q = means.shape
    return pl.DataFrame({
        "date": dates.gather(np.repeat(np.arange(T), q)), "horizon": h,
        "quantile": np.tile(np.arange(1, q + 1), T), "mean_return": means.ravel(), "n": counts.ravel(),
    }).with_columns(pl.col("mean_return").fill_nan(None))


def _pooled(by_date: pl.DataFrame) -> pl.DataFrame:
    return (
        by_date.group_by("horizon", "quantile")
        .agg(mean_return=pl.col("mean_return").mean(),
             std_error=pl.col("mean_return").std(ddof=1) / pl.col("mean_return").count().sqrt(),
             n_dates=pl.col("mean_return").count())
        .with_columns(mean_return_per_session=(1.0 + pl.col("mean_return")) ** (1.0 / pl.col("horizon")) - 1.0)
        .select("horizon", "quantile", "mean_return", "std_error", "mean_return_per_session", "n_dates")
        .sort("horizon", "quantile")
    )


def _factor_weighted(f: np.ndarray, r: np.ndarray, clean: np.ndarray) -> np.ndarray:
    centred = np.where(clean, f - _row_mean(f, clean)[:, None], 0.0)
    denom = np.abs(centred).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = centred / np.where(denom > 0, denom, 1.0)[:, None]
    total = np.where(clean, w * np.where(clean, r, 0.0), 0.0).sum(axis=1)
    return np.where(clean.any(axis=1), total, np.nan)


def _ic(panel, f: np.ndarray, fwd: dict[int, np.ndarray], horizons: Sequence[int]) -> tuple[pl.DataFrame, pl.DataFrame]:
    T, N = f.shape
    cols = {f"fwd_ret_{h}": fwd[h].ravel() for h in horizons}
    long = pl.DataFrame({"date": pl.Series(np.repeat(panel.dates, N)).cast(pl.Date), "factor": f.ravel(), **cols})
    ic = cross_sectional_ic(long, ["factor"], list(cols))
    ic = ic.with_columns(horizon=pl.col("outcome").str.strip_prefix("fwd_ret_").cast(pl.Int64))
    ic = ic.filter(pl.col("n") > 0).select("date", "horizon", "ic", "rank_ic", "n").sort("horizon", "date")
    decay = summarise_ic(ic, by=("horizon",)).sort("horizon")
    return ic, decay


def _turnover(dates: pl.Series, bucket: np.ndarray, q: int) -> pl.DataFrame:
    parts = []
    present = (bucket > 0).any(axis=1)
    rows = np.flatnonzero(present)
    for k in range(1, q + 1):
        m = (bucket == k)[rows]
        new = m[1:] & ~m[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = new.sum(axis=1) / np.maximum(m[1:].sum(axis=1), 1)
        parts.append(pl.DataFrame({"date": dates.gather(rows[1:]), "quantile": k, "turnover": share}))
    return pl.concat(parts).sort("quantile", "date")
