"""Corporate actions: split and dividend adjustment point in time, and a store that keeps one basis.

What is data and what is derived
--------------------------------
A price row holds the session as traded (``open, high, low, close, volume``)
and the provider's ``adj_close``.  Their ratio ``f = adj_close / close`` is the
*cumulative adjustment factor* (Qlib's ``factor``): the product of the event
ratios of every split and dividend after the session, up to the day the
provider was asked (its *basis*).  A back-adjusting provider (Yahoo, Stooq,
Alpha Vantage) moves ``f`` of all history on every new event, so ``f`` by
itself depends on when a row was fetched.  What does not is the *event
ratio* of session ``t``, ``g[t] = f[t-1] / f[t]``: 0.5 on a 2:1 split,
``1 - dividend / close[t-1]`` on an ex-dividend day, 1.0 otherwise (zipline's
adjustment table holds the same numbers).

Two rules follow, one per layer:

* **Store one basis** (:func:`rebase_to_stored`, called by ``raw_prices``).
  A session's event ratio is only visible inside one fetch that also holds
  the session before it: a provider anchored at the day it is asked returns
  ``f = 1`` on every nightly row, split day or not.  So a nightly fetch also
  returns the session before it, already stored.  Per
  symbol, the fetched rows' ``adj_close`` is multiplied by ``stored f /
  fetched f`` on that session (the *rebase*), so consecutive stored rows keep
  the provider's event ratio between them (a split on the nightly session is
  seen as a split, never as a crash).  The rebase is 1 until the provider
  re-adjusts a symbol's history; from then on the store keeps its own basis
  and a further re-adjustment shows as a change of the rebase, which is
  reported, not repaired by a re-fetch: nothing stored needs to change,
  because every consumer reads ratios within one basis or re-anchors (next
  rule).
* **Anchor each window at its last session** (:func:`point_in_time_scales`,
  :func:`point_in_time_adjusted`, called where features assemble their
  window).  Prices of the window are back-adjusted to the window's last
  session as traded: ``adjusted[s] = close[s] * prod(g[u] for s < u <= last)``
  ``= adj_close[s] * close[last] / adj_close[last]``.  Returns and every
  scale-free feature are the same in any basis; price-level features (an SMA
  in price units) are in the units of the window's last session as traded,
  whatever the basis the history was stored in.  The window is the panel a
  computation is given: a nightly run's ends on its session, a range run's
  on the range's last session, so a range that ends after a split reports the
  earlier sessions' price-level features in post-split units (use the
  ``close_to_*`` ratios to compare levels across time).  Ratio consumers (labels,
  regimes, the jump rule, backtests) read ``adj_close`` directly: a ratio of
  two rows in one basis is already anchor-free.

Splits versus dividends (volume)
--------------------------------
Volume is in shares, so a split changes it and a dividend does not.  An event
ratio ``g`` is a **split** when it moves by more than :data:`SPLIT_MIN_CHANGE`
(1 %) and ``g`` or ``1 / g`` equals ``p / q`` for integers ``q <=``
:data:`SPLIT_MAX_DENOMINATOR` (10) and ``p <=`` :data:`SPLIT_MAX_NUMERATOR`
(100) to :data:`SPLIT_RTOL` (1e-4) relative (2:1, 3:2, 7:1, 20:1, 1:10 …);
its value is then snapped to ``q / p`` exactly.  Anything else is a dividend
(or several events on one session).  The rule can take a dividend whose
factor happens to be such a fraction (a payout of exactly 1/10 of the close)
for a split, and a split paid together with a dividend for a dividend; real
sources give neither often.  Volume of a window is divided by the product of
the split ratios after each session (``volume / split factor``, as Qlib), so
shares are counted in the last session's shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from market_assets.quant.validation.received import RECEIVED_DATE

#: An event ratio must move by more than this to be a split.
SPLIT_MIN_CHANGE = 0.01
#: Largest denominator and numerator of a split ratio (``p / q``: 3:2 is p=3, q=2; 1:10 is p=10, q=1).
SPLIT_MAX_DENOMINATOR = 10
SPLIT_MAX_NUMERATOR = 100
#: Relative tolerance of ``g`` against ``p / q`` (providers round adj_close).
SPLIT_RTOL = 1e-4
#: Relative change of the stored factor beyond rounding that counts as a re-adjusted history.
BASIS_RTOL = 1e-4

#: Columns of the report returned by :func:`rebase_to_stored`, one row per symbol of the overlap.
BASIS_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "stored_factor": pl.Float64(),
    "fetched_factor": pl.Float64(),
    "rebase": pl.Float64(),
    "previous_rebase": pl.Float64(),
    "readjusted": pl.Boolean(),
}


def split_ratios(ratio: np.ndarray) -> np.ndarray:
    """The split part of event ratios: ``q / p`` snapped exactly where ``ratio`` is a split, else 1.0.

    Parameters
    ----------
    ratio
        Event ratios ``g = f[t-1] / f[t]`` (any shape; NaN where undefined).

    Returns
    -------
    np.ndarray
        Same shape: the split ratio (0.5 for 2:1, 2/3 for 3:2, 10.0 for a 1:10
        reverse split) or exactly 1.0 (dividends, no event, NaN).  See the
        module docstring for the rule.
    """
    g = np.asarray(ratio, dtype=np.float64)
    out = np.ones_like(g)
    candidate = np.isfinite(g) & (g > 0) & (np.abs(g - 1.0) > SPLIT_MIN_CHANGE)
    if not candidate.any():
        return out
    idx = np.flatnonzero(candidate)
    values = g.ravel()[idx]
    big = np.maximum(values, 1.0 / values)  # r = p / q > 1
    num, den = np.zeros(len(idx)), np.zeros(len(idx))
    for q in range(SPLIT_MAX_DENOMINATOR, 0, -1):  # the smallest matching q wins (written last)
        p = np.rint(big * q)
        hit = (p <= SPLIT_MAX_NUMERATOR) & (np.abs(big * q - p) <= SPLIT_RTOL * big * q)
        num[hit], den[hit] = p[hit], q
    found = num > 0
    exact = np.where(values < 1.0, den / np.where(found, num, 1.0), num / np.where(found, den, 1.0))
    out.ravel()[idx[found]] = exact[found]
    return out


def point_in_time_scales(factor: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Price and split scales of a time-major window, anchored at each symbol's last session.

    Parameters
    ----------
    factor
        ``(sessions × symbols)`` matrix of ``adj_close / close`` (positive;
        NaN where a symbol has no row, e.g. padding after its last session).

    Returns
    -------
    price_scale : np.ndarray
        ``f[t] / f[last]`` = the product of every event ratio after ``t``:
        multiplied into OHLC it gives prices back-adjusted to the symbol's last
        session as traded (NaN where ``factor`` is NaN).
    split_scale : np.ndarray or None
        The product of the split ratios (:func:`split_ratios`) after ``t``;
        ``volume / split_scale`` counts shares in the last session's shares
        and ``close * split_scale`` is the close adjusted for splits only (so
        their product is the value traded).  None when the window holds no split.
    """
    n_t, n_sym = factor.shape
    valid = ~np.isnan(factor)
    last = n_t - 1 - np.argmax(valid[::-1], axis=0) if n_t else np.zeros(n_sym, dtype=np.int64)
    anchor = factor[last, np.arange(n_sym)] if n_t else np.ones(n_sym)
    price_scale = factor / anchor
    if n_t < 2:
        return price_scale, None
    with np.errstate(invalid="ignore", divide="ignore"):
        splits = split_ratios(factor[:-1] / factor[1:])  # row u - 1 holds the event of session u
    if not (splits != 1.0).any():
        return price_scale, None
    split_scale = np.ones_like(factor)
    split_scale[:-1] = np.cumprod(splits[::-1], axis=0)[::-1]  # product over the events after t
    return price_scale, split_scale


def point_in_time_adjusted(prices: pl.DataFrame) -> pl.DataFrame:
    """``prices`` with OHLCV back-adjusted to each symbol's last row (see the module docstring).

    Parameters
    ----------
    prices
        Long prices with ``date, symbol, open, high, low, close, adj_close,
        volume``; unique (date, symbol), positive ``close`` and ``adj_close``.

    Returns
    -------
    pl.DataFrame
        The rows in their order, every column kept except ``adj_close``, which
        is replaced by the close adjusted to the symbol's last row as traded,
        plus ``adj_open``, ``adj_high``, ``adj_low`` (same scale), ``adj_volume``
        (split-adjusted shares), ``price_factor`` (``adj_close / close``) and
        ``split_factor`` (1.0 after the symbol's last split).
    """
    missing = [c for c in ("date", "symbol", "open", "high", "low", "close", "adj_close", "volume")
               if c not in prices.columns]
    if missing:
        raise ValueError(f"point_in_time_adjusted: missing column(s) {missing}; expected the price schema "
                         f"(market_assets.schema.PRICE_SCHEMA), got {prices.columns}")
    order = prices.select(
        pl.col("symbol").rank("dense").cast(pl.Int64).alias("sym") - 1,
        pl.int_range(pl.len()).over("symbol", order_by="date").alias("pos"),
        (pl.col("adj_close") / pl.col("close")).alias("f"),
    )
    sym, pos = order["sym"].to_numpy(), order["pos"].to_numpy()
    factor = np.full((int(pos.max()) + 1 if len(pos) else 0, int(sym.max()) + 1 if len(sym) else 0), np.nan)
    factor[pos, sym] = order["f"].to_numpy()
    price_scale, split_scale = point_in_time_scales(factor)
    price = pl.Series("price_factor", price_scale[pos, sym])
    split = pl.Series("split_factor", np.ones(len(pos)) if split_scale is None else split_scale[pos, sym])
    return prices.with_columns(
        (pl.col("close") * price).alias("adj_close"),
        *((pl.col(c) * price).alias(f"adj_{c}") for c in ("open", "high", "low")),
        (pl.col("volume") / split).alias("adj_volume"),
        price,
        split,
    )


@dataclass(frozen=True)
class Rebased:
    """Fetched rows put on the stored basis, and what the comparison found.

    Attributes
    ----------
    prices
        The fetched rows without those of the overlap session's partition, in their order,
        ``adj_close`` multiplied by the symbol's ``rebase``; every other column
        as received.
    basis
        One row per symbol of the overlap (:data:`BASIS_SCHEMA`):
        ``stored_factor`` and ``fetched_factor`` (``adj_close / close`` of the
        overlap session, null when that side has no usable row), ``rebase``
        (their ratio, 1.0 when either is null), ``previous_rebase`` (the one
        applied when the overlap session was stored) and ``readjusted``: the
        provider changed that symbol's history since then, i.e. ``rebase``
        moved from ``previous_rebase`` by more than :data:`BASIS_RTOL`.
    """

    prices: pl.DataFrame
    basis: pl.DataFrame

    @property
    def readjusted(self) -> pl.DataFrame:
        """The rows of ``basis`` whose history the provider re-adjusted."""
        return self.basis.filter(pl.col("readjusted"))


def _overlap_factors(frame: pl.DataFrame, overlap: dt.date, name: str) -> pl.DataFrame:
    """Per symbol, the median ``adj_close / close`` of its usable rows dated ``overlap``.

    A stored partition may hold rows dated on other days under ``overlap``
    (:data:`RECEIVED_DATE` then keeps the date as received): only rows
    received for ``overlap`` itself count.
    """
    close, adj = pl.col("close"), pl.col("adj_close")
    usable = (pl.col("date") == overlap) & close.is_finite() & adj.is_finite() & (close > 0) & (adj > 0)
    if RECEIVED_DATE in frame.columns:
        usable &= pl.col(RECEIVED_DATE) == overlap
    return (frame.filter(usable.fill_null(False)).group_by("symbol")
            .agg((adj / close).median().alias(name)))


def rebase_to_stored(fetched: pl.DataFrame, stored: pl.DataFrame, overlap: dt.date, first: dt.date, *,
                     previous_rebase: Mapping[str, float] | None = None, rtol: float = BASIS_RTOL) -> Rebased:
    """Chain freshly fetched rows onto stored history through one overlapping session.

    Parameters
    ----------
    fetched
        Rows as the provider returned them from ``overlap`` on.
    stored
        The stored rows of ``overlap``'s partition (any defects: rows without a
        finite positive close and adj_close are ignored, duplicates count by
        their median factor).
    overlap
        The session both hold: the last stored session before the fetch.
    first
        The first session fetched for storage; fetched rows dated from
        ``overlap`` up to the day before ``first`` belong to ``overlap``'s
        partition (the session and the days it owns) and are dropped.
    previous_rebase
        Per symbol, the rebase applied when ``overlap`` was stored (1.0 when
        absent).  Once a provider re-adjusted a symbol, its stored and fetched
        factors differ for good (the store keeps its basis); a further
        re-adjustment shows as a change of the rebase.
    rtol
        Relative change of the factor beyond rounding that counts as re-adjusted.

    Returns
    -------
    Rebased
        See :class:`Rebased`.  A symbol missing on either side is not rebased
        (its ``rebase`` is 1.0) and not reported as re-adjusted.
    """
    basis = (
        _overlap_factors(fetched, overlap, "fetched_factor")
        .join(_overlap_factors(stored, overlap, "stored_factor"), on="symbol", how="full", coalesce=True)
        .with_columns(
            (pl.col("stored_factor") / pl.col("fetched_factor")).fill_null(1.0).alias("rebase"),
            pl.col("symbol").replace_strict(dict(previous_rebase or {}), default=1.0, return_dtype=pl.Float64)
            .alias("previous_rebase"),
        )
        .with_columns(((pl.col("rebase") / pl.col("previous_rebase") - 1.0).abs() > rtol).alias("readjusted"))
        .select(list(BASIS_SCHEMA)).cast(BASIS_SCHEMA).sort("symbol")
    )
    after = fetched.filter(~pl.col("date").is_between(overlap, first, closed="left").fill_null(False))
    rebased = (
        after.join(basis.select("symbol", "rebase"), on="symbol", how="left", maintain_order="left")
        .with_columns((pl.col("adj_close") * pl.col("rebase").fill_null(1.0)).alias("adj_close"))
        .select(after.columns)
    )
    return Rebased(rebased, basis)
