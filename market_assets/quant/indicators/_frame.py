"""Panel preparation shared by every indicator stage (internal).

Conventions
-----------
* The long panel becomes time-major ``(sessions × symbols)`` matrices: column
  ``s`` is the ``s``-th symbol in sorted order, row ``t`` its ``t``-th session
  (aligned by position within the symbol, not by date, so symbols with
  different histories need no calendar alignment).  A symbol with fewer
  sessions is padded with NaN at the end.  When every symbol has every date
  (a *balanced* panel) row ``t`` is simply the ``t``-th date.
* **Split/dividend adjustment, point in time**
  (:mod:`market_assets.quant.adjustments`).  OHLC are back-adjusted to each
  symbol's last session of the panel as traded: multiplied by the product of
  the event ratios (changes of ``adj_close / close``) after the session, i.e.
  ``adj_close * close[last] / adj_close[last]``; without it a 2:1 split would
  look like a 50 % crash to every price indicator.  So the panel's basis (when
  the provider was asked) never matters: returns and scale-free features do
  not depend on any anchor, and price-level features (``sma_20``, ``atr_14``,
  ``macd_12_26_9`` … in price units) are in the units of the panel's last
  session as traded (a nightly run: its own session; a range run: the
  range's last session, so a range that ends after a split shows the
  sessions before it in post-split units).  Volume is divided by the split
  ratios after the session (splits only, not dividends: shares), so volume
  features do not jump on a split.
* Base series: ``_o, _h, _l, _c`` (adjusted OHLC), ``_v`` (split-adjusted
  volume) and ``close`` (close adjusted for splits only, so ``close * _v`` is
  the value traded); derived ones (``_dc`` close change, ``_ret`` simple
  return, ``_lret`` log return, ``_tr`` true range, ``_tp`` typical price) are
  defined in :mod:`.chunk`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from market_assets.quant.adjustments import point_in_time_scales
from market_assets.quant.indicators.memory import plain_empty

REQUIRED_COLUMNS: tuple[str, ...] = ("date", "symbol", "open", "high", "low", "close", "adj_close", "volume")
VALUE_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS[2:]


def _first_bad_row(prices: pl.DataFrame, bad: np.ndarray) -> dict:
    return prices.row(int(np.argmax(bad)), named=True)


def _check_values(prices: pl.DataFrame, values: dict[str, np.ndarray]) -> None:
    """Raise on null/NaN values or non-positive close/adj_close, naming the first offending row."""
    missing = np.zeros(prices.height, dtype=bool)
    for name in VALUE_COLUMNS:
        missing |= np.isnan(values[name])
    if missing.any():
        row = _first_bad_row(prices, missing)
        cols = [c for c in VALUE_COLUMNS if row[c] is None or row[c] != row[c]]
        raise ValueError(
            f"compute_features: {int(missing.sum())} row(s) with null/NaN prices, first symbol={row['symbol']!r} "
            f"date={row['date']} column(s) {cols}; expected validated prices without gaps"
        )
    nonpos = (values["close"] <= 0) | (values["adj_close"] <= 0)
    if nonpos.any():  # checked after nulls so the message names the real problem
        row = _first_bad_row(prices, nonpos)
        raise ValueError(
            f"compute_features: non-positive close/adj_close for symbol={row['symbol']!r} date={row['date']} "
            f"(close={row['close']}, adj_close={row['adj_close']}); expected positive prices"
        )


def _read_values(prices: pl.DataFrame) -> dict[str, np.ndarray]:
    missing = [c for c in REQUIRED_COLUMNS if c not in prices.columns]
    if missing:
        raise ValueError(
            f"compute_features: missing column(s) {missing}; expected at least {list(REQUIRED_COLUMNS)} "
            f"(see market_assets.schema.PRICE_SCHEMA), got {prices.columns}"
        )
    return {c: prices[c].cast(pl.Float64).to_numpy() for c in VALUE_COLUMNS}  # nulls become NaN


@dataclass
class Panel:
    """A validated price panel as time-major matrices plus where each row goes in the output.

    Attributes
    ----------
    symbols
        Sorted distinct symbols (matrix columns).
    days
        Sorted distinct dates as days since 1970-01-01.
    base
        Base series as ``(sessions × symbols)`` float matrices, NaN-padded.
    out_pos, out_sym, out_day
        For every output row, in ``(date, symbol)`` order: session position,
        symbol column and date index (into ``days``).
    balanced
        True if every symbol has every date (then ``pos == day``).
    """

    symbols: pl.Series
    days: np.ndarray
    base: dict[str, np.ndarray]
    out_pos: np.ndarray
    out_sym: np.ndarray
    out_day: np.ndarray
    balanced: bool

    @property
    def shape(self) -> tuple[int, int]:
        """``(sessions, symbols)`` of the matrices."""
        return next(iter(self.base.values())).shape


def _date_major_order(prices: pl.DataFrame, sym: np.ndarray, day: np.ndarray, n_sym: int) -> np.ndarray | None:
    """Row order by (date, symbol), None if already so; raises on a duplicate (date, symbol)."""
    key = day * n_sym + sym
    if np.all(key[1:] > key[:-1]):
        return None
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(key[order][1:] == key[order][:-1])
    if len(dup):
        row = prices.row(int(order[dup[0]]), named=True)
        raise ValueError(
            f"compute_features: duplicate (date, symbol) = ({row['date']}, {row['symbol']!r}); "
            "expected one row per session and symbol"
        )
    return order


def _positions(sym: np.ndarray, n_sym: int) -> np.ndarray:
    """Session position of each (date-sorted) row within its symbol."""
    by_symbol = np.argsort(sym, kind="stable")
    counts = np.bincount(sym, minlength=n_sym)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.empty(len(sym), dtype=np.int64)
    pos[by_symbol] = np.arange(len(sym)) - np.repeat(starts, counts)
    return pos


def _base(values: dict[str, np.ndarray], rows: np.ndarray | None, pos: np.ndarray, sym: np.ndarray,
          shape: tuple[int, int], balanced: bool) -> dict[str, np.ndarray]:
    """Adjusted base series as matrices (see the module doc); ``rows`` is the date-major order (None: as given)."""
    n = len(sym)

    def ordered(x: np.ndarray) -> np.ndarray:
        return x if rows is None else np.take(x, rows, out=plain_empty(n))

    owned = rows is not None or not balanced  # else a balanced matrix is a view of the caller's column

    def matrix(x: np.ndarray) -> np.ndarray:
        if balanced:
            return ordered(x).reshape(shape)
        out = plain_empty(shape)
        out.fill(np.nan)
        out[pos, sym] = ordered(x)
        return out

    def scaled(x: np.ndarray, scale: np.ndarray, op: np.ufunc) -> np.ndarray:
        m = matrix(x)
        return op(m, scale, out=m if owned else plain_empty(shape))

    price_scale, split_scale = point_in_time_scales(matrix(np.divide(values["adj_close"], values["close"],
                                                                     out=plain_empty(n))))
    series = {name: scaled(values[col], price_scale, np.multiply)
              for name, col in (("_o", "open"), ("_h", "high"), ("_l", "low"), ("_c", "close"))}
    if split_scale is None:
        return series | {"_v": matrix(values["volume"]), "close": matrix(values["close"])}
    return series | {"_v": scaled(values["volume"], split_scale, np.divide),
                     "close": scaled(values["close"], split_scale, np.multiply)}


def _day_index(prices: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct dates (days since epoch) and each row's index into them."""
    raw = prices["date"].cast(pl.Int32).to_numpy().astype(np.int64)
    if not len(raw):
        return raw, raw
    lo = raw.min()
    present = np.zeros(raw.max() - lo + 1, dtype=bool)
    present[raw - lo] = True
    days = np.flatnonzero(present) + lo
    lookup = np.cumsum(present) - 1
    return days, lookup[raw - lo]


def prepare(prices: pl.DataFrame, output_dates: Collection[date] | None = None) -> Panel:
    """Validate ``prices`` and lay them out as time-major matrices (see module doc)."""
    values = _read_values(prices)
    _check_values(prices, values)
    symbols = prices["symbol"].unique().sort()
    sym = prices["symbol"].cast(pl.Enum(symbols)).to_physical().to_numpy().astype(np.int64)
    days, day = _day_index(prices)
    n_sym = len(symbols)
    rows = _date_major_order(prices, sym, day, n_sym)
    sym_s, day_s = (sym, day) if rows is None else (sym[rows], day[rows])
    balanced = len(sym_s) == len(days) * n_sym
    pos = day_s if balanced else _positions(sym_s, n_sym)
    n_t = int(pos.max()) + 1 if len(pos) else 0
    base = _base(values, rows, pos, sym_s, (n_t, n_sym), balanced)
    keep = slice(None)
    if output_dates is not None:
        wanted = pl.Series(list(output_dates), dtype=pl.Date).cast(pl.Int32).to_numpy()
        keep = np.isin(days, wanted)[day_s]
    return Panel(symbols, days, base, pos[keep], sym_s[keep], day_s[keep], balanced)
