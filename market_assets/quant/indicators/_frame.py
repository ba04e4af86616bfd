"""Panel preparation shared by every indicator stage (internal).

Conventions
-----------
* The panel is sorted by ``symbol`` then ``date`` internally so that every
  per-symbol computation sees one contiguous, time-ordered series.
* **Split/dividend adjustment.** OHLC are rescaled by ``adj_close / close`` so
  that ``open``, ``high`` and ``low`` live on the same adjusted scale as
  ``adj_close``; without it a 2:1 split would look like a 50 % crash to every
  price indicator.  Volume is *not* rescaled (``adj_close / close`` cannot tell
  a split from a dividend), so volume features are short-window ratios.
* Internal columns start with ``_``: ``_o, _h, _l, _c`` (adjusted OHLC),
  ``_v`` (volume), ``_sym`` (symbol code), ``_i`` (session index within the
  symbol, 0 for its first row), ``_dc`` (close change), ``_ret`` (simple
  return), ``_lret`` (log return), ``_tr`` (true range), ``_tp`` (typical price).
"""

from __future__ import annotations

import numpy as np
import polars as pl

REQUIRED_COLUMNS: tuple[str, ...] = ("date", "symbol", "open", "high", "low", "close", "adj_close", "volume")
SYM = "_sym"
IDX = "_i"


def safe_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``num / den``, null where ``den`` is zero (never ±inf)."""
    return pl.when(den != 0).then(num / den)


def _check_input(prices: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in prices.columns]
    if missing:
        raise ValueError(
            f"compute_features: missing column(s) {missing}; expected at least {list(REQUIRED_COLUMNS)} "
            f"(see market_assets.schema.PRICE_SCHEMA), got {prices.columns}"
        )
    values = [c for c in REQUIRED_COLUMNS if c not in ("date", "symbol")]
    bad = prices.filter(pl.any_horizontal(pl.col(values).is_null() | pl.col(values).cast(pl.Float64).is_nan()))
    if bad.height:
        row = bad.row(0, named=True)
        cols = [c for c in values if row[c] is None or row[c] != row[c]]
        raise ValueError(
            f"compute_features: {bad.height} row(s) with null/NaN prices, first symbol={row['symbol']!r} "
            f"date={row['date']} column(s) {cols}; expected validated prices without gaps"
        )
    nonpos = prices.filter((pl.col("close") <= 0) | (pl.col("adj_close") <= 0))
    if nonpos.height:  # checked after nulls so the message names the real problem
        row = nonpos.row(0, named=True)
        raise ValueError(
            f"compute_features: non-positive close/adj_close for symbol={row['symbol']!r} date={row['date']} "
            f"(close={row['close']}, adj_close={row['adj_close']}); expected positive prices"
        )
    dup = _row_key(prices, symbol_major=True).is_duplicated()
    if dup.any():
        row = prices.filter(dup).row(0, named=True)
        raise ValueError(
            f"compute_features: duplicate (date, symbol) = ({row['date']}, {row['symbol']!r}); "
            "expected one row per session and symbol"
        )


def prepare(prices: pl.DataFrame) -> pl.DataFrame:
    """Validate, sort by (symbol, date) and add the internal base columns."""
    _check_input(prices)
    factor = pl.col("adj_close") / pl.col("close")
    order = _row_key(prices, symbol_major=True).arg_sort()
    frame = (
        prices.select("date", "symbol", "open", "high", "low", "close", "adj_close", "volume")[order]
        .lazy()
        .with_columns(
            (pl.col("open") * factor).cast(pl.Float64).alias("_o"),
            (pl.col("high") * factor).cast(pl.Float64).alias("_h"),
            (pl.col("low") * factor).cast(pl.Float64).alias("_l"),
            pl.col("adj_close").cast(pl.Float64).alias("_c"),
            pl.col("volume").cast(pl.Float64).alias("_v"),
            pl.col("symbol").rle_id().alias(SYM),
        )
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over(SYM).alias(IDX))
    )
    c, h, l, prev = pl.col("_c"), pl.col("_h"), pl.col("_l"), pl.col("_c").shift(1)
    frame = frame.with_columns(
        (c - prev).over(SYM).alias("_dc"),
        (c / prev - 1.0).over(SYM).alias("_ret"),
        (c / prev).log().over(SYM).alias("_lret"),
        pl.max_horizontal(h - l, (h - prev).abs(), (l - prev).abs()).over(SYM).alias("_tr"),
        ((h + l + c) / 3.0).alias("_tp"),
    )
    return frame.collect()


def _row_key(frame: pl.DataFrame, *, symbol_major: bool = False) -> pl.Series:
    """One Int64 per row ordering by (date, symbol), or (symbol, date) if ``symbol_major``.

    Sorting one integer is much faster than sorting a string and a date column.
    """
    symbols = frame["symbol"].unique().sort()
    ranks = frame["symbol"].cast(pl.Enum(symbols)).to_physical().cast(pl.Int64)
    days = frame["date"].cast(pl.Int32).cast(pl.Int64)
    days = days - days.min() if frame.height else days
    if symbol_major:
        return ranks * (int(days.max() or 0) + 1) + days
    return days * (int(ranks.max() or 0) + 1) + ranks


def date_major_order(frame: pl.DataFrame) -> pl.Series:
    """Row permutation sorting ``frame`` by (date, symbol)."""
    return _row_key(frame).arg_sort()


class Layout:
    """Maps the long (symbol-major) panel to a dense ``(n_symbols, n_sessions)`` matrix.

    Row ``k`` of the matrix is the ``k``-th symbol; column ``j`` is its
    ``j``-th session (aligned by position, not by date, so symbols with
    different histories need no calendar alignment).  Padding is NaN.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self.code = frame[SYM].to_numpy()
        self.pos = frame[IDX].to_numpy()
        self.n_sym = int(self.code.max()) + 1 if len(self.code) else 0
        self.n_pos = int(self.pos.max()) + 1 if len(self.pos) else 0
        self.balanced = self.n_sym * self.n_pos == len(self.code)

    def to_matrix(self, values: np.ndarray) -> np.ndarray:
        """Long values → ``(n_symbols, n_sessions)`` float matrix."""
        values = np.asarray(values, dtype=np.float64)
        if self.balanced:
            return values.reshape(self.n_sym, self.n_pos).copy()
        out = np.full((self.n_sym, self.n_pos), np.nan)
        out[self.code, self.pos] = values
        return out

    def to_long(self, matrix: np.ndarray) -> np.ndarray:
        """``(n_symbols, n_sessions)`` matrix → long values in frame order."""
        if self.balanced:
            return matrix.reshape(-1)
        return matrix[self.code, self.pos]


def column_matrix(frame: pl.DataFrame, layout: Layout, name: str) -> np.ndarray:
    """A frame column as a layout matrix, nulls as NaN."""
    return layout.to_matrix(frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy())
