"""Long-format prices and predictions as dense ``sessions × symbols`` NumPy arrays.

Conventions
-----------
* The grid is the sorted distinct ``date`` values of ``prices`` (sessions) and
  the sorted distinct symbols (or the ``symbols`` given).  A (session, symbol)
  without a row is NaN in every array.
* Returns use **adjusted** prices: ``close`` is ``adj_close`` and ``open`` is
  ``open * adj_close / close`` (the same split/dividend factor as the close of
  that bar), so a split never looks like a return.
* The volume cap uses the **traded** currency volume ``raw_price * volume``
  (unadjusted price times reported shares).
* A bar is *valid for a fill* when its close and adjusted close are finite
  and positive, and, for fills at the open, its open too.  An invalid bar
  (missing or rejected by validation, so absent from validated prices) never
  fills; positions are valued at the last valid close across it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

_PRICE_COLUMNS = ("date", "symbol", "open", "close", "adj_close", "volume")


@dataclass(frozen=True)
class MarketPanel:
    """Prices on a dense grid; arrays are ``(n_sessions, n_symbols)`` float64, NaN where absent."""

    dates: np.ndarray  #: sessions, datetime64[D], strictly increasing
    symbols: tuple[str, ...]
    open: np.ndarray  #: adjusted open (``open * adj_close / close``)
    close: np.ndarray  #: adjusted close
    raw_open: np.ndarray  #: open as traded
    raw_close: np.ndarray  #: close as traded
    volume: np.ndarray  #: shares traded

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_sessions, n_symbols)``."""
        return self.close.shape

    def fill_prices(self, fill: str) -> tuple[np.ndarray, np.ndarray]:
        """Adjusted and traded fill prices for ``fill`` in {"open", "close"}."""
        if fill == "open":
            return self.open, self.raw_open
        if fill == "close":
            return self.close, self.raw_close
        raise ValueError(f"fill={fill!r}; expected 'open' or 'close' (the next session's price)")

    def valid_bars(self, fill: str) -> np.ndarray:
        """Boolean ``(T, N)``: the bar can fill an order at ``fill`` (see module docstring)."""
        ok = (self.close > 0) & (self.raw_close > 0)
        if fill == "close":
            return ok
        price, raw = self.fill_prices(fill)
        ok &= price > 0
        ok &= raw > 0
        return ok

    def slice(self, start: int) -> MarketPanel:
        """The panel from session index ``start`` on."""
        return MarketPanel(self.dates[start:], self.symbols, *(a[start:] for a in
                           (self.open, self.close, self.raw_open, self.raw_close, self.volume)))


def market_panel(prices: pl.DataFrame, symbols: Sequence[str] | None = None) -> MarketPanel:
    """Pivot long-format prices (:mod:`market_assets.schema`) to a :class:`MarketPanel`.

    Parameters
    ----------
    prices
        At least ``date, symbol, open, close, adj_close, volume``; one row per
        (date, symbol).
    symbols
        The universe in column order; default: the sorted symbols of ``prices``.
        Rows of other symbols are ignored.

    Raises
    ------
    ValueError
        Missing columns or a duplicate (date, symbol), naming it.
    """
    missing = [c for c in _PRICE_COLUMNS if c not in prices.columns]
    if missing:
        raise ValueError(f"prices: missing column(s) {missing}; expected at least {list(_PRICE_COLUMNS)}, "
                         f"got {prices.columns}")
    frame = prices.select(_PRICE_COLUMNS)
    universe = tuple(sorted(frame["symbol"].unique().to_list())) if symbols is None else tuple(symbols)
    dates = np.unique(frame["date"].to_numpy().astype("datetime64[D]"))
    t, n = grid_index(frame, dates, universe, what="prices")
    arrays = {}
    for name in ("open", "close", "adj_close", "volume"):
        out = np.full((len(dates), len(universe)), np.nan)
        out[t, n] = frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()[_kept(frame, universe)]
        arrays[name] = out
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = arrays["adj_close"] / arrays["close"]
    return MarketPanel(dates, universe, arrays["open"] * factor, arrays["adj_close"],
                       arrays["open"], arrays["close"], arrays["volume"])


def signal_panel(
    predictions: pl.DataFrame,
    panel: MarketPanel,
    *,
    column: str = "prediction",
    horizon: int | None = None,
) -> np.ndarray:
    """One column of long-format predictions on the panel's grid, NaN where absent.

    Parameters
    ----------
    predictions
        ``date, symbol, horizon`` (optional when ``horizon`` is None) and ``column``.
    panel
        The grid.  Symbols outside it are ignored.
    column
        ``prediction`` (a return forecast or a class index 0..4), ``confidence``, …
    horizon
        Keep only rows of this horizon; required when ``predictions`` holds several.

    Raises
    ------
    ValueError
        A prediction dated outside the sessions of ``panel``, several horizons
        without ``horizon``, or a duplicate (date, symbol).
    """
    if column not in predictions.columns:
        raise ValueError(f"predictions: no column {column!r}; columns are {predictions.columns}")
    frame = predictions
    if "horizon" in frame.columns:
        if horizon is not None:
            frame = frame.filter(pl.col("horizon") == horizon)
        elif frame["horizon"].n_unique() > 1:
            raise ValueError(f"predictions hold horizons {sorted(frame['horizon'].unique().to_list())}; "
                             "pass horizon= to choose one")
    t, n = grid_index(frame, panel.dates, panel.symbols, what="predictions")
    out = np.full(panel.shape, np.nan)
    out[t, n] = frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()[_kept(frame, panel.symbols)]
    return out


def _kept(frame: pl.DataFrame, universe: Sequence[str]) -> np.ndarray:
    return frame["symbol"].is_in(list(universe)).to_numpy()


def grid_index(
    frame: pl.DataFrame, dates: np.ndarray, symbols: Sequence[str], *, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each row of ``frame`` whose symbol is in ``symbols``."""
    kept = frame.filter(pl.col("symbol").is_in(list(symbols)))
    day = kept["date"].to_numpy().astype("datetime64[D]")
    t = np.searchsorted(dates, day)
    outside = (t >= len(dates)) | (dates[np.minimum(t, len(dates) - 1)] != day) if len(dates) else np.ones(len(day), bool)
    if outside.any():
        raise ValueError(f"{what}: date {day[outside][0]} is not a session of the price grid "
                         f"({dates[0] if len(dates) else None} … {dates[-1] if len(dates) else None}); "
                         "pass prices covering every predicted session")
    n = kept["symbol"].replace_strict(list(symbols), list(range(len(symbols))), return_dtype=pl.Int64).to_numpy()
    flat = t * max(len(symbols), 1) + n
    if len(np.unique(flat)) != len(flat):
        first = np.sort(flat)[np.flatnonzero(np.diff(np.sort(flat)) == 0)[0]]
        raise ValueError(f"{what}: duplicate row for session {dates[first // len(symbols)]} and symbol "
                         f"{symbols[first % len(symbols)]!r}; expected one row per (date, symbol)")
    return t, n
