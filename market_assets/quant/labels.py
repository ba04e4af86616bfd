"""Forward-return labels: returns, direction and five signal classes per horizon.

Conventions
-----------
* A horizon ``h`` counts **sessions of the symbol**, i.e. rows of that symbol
  in ``prices``, not calendar days: ``fwd_ret_h`` at ``t`` is
  ``adj_close[t+h] / adj_close[t] - 1`` where ``t+h`` is the h-th later row of
  the same symbol.  If a symbol misses a session, its window simply reaches one
  row further.
* A label whose window reaches past the last row of its symbol is null; it is
  never guessed or filled.
* ``fwd_logret_h = log(adj_close[t+h] / adj_close[t])``.
* ``fwd_dir_h`` is 1.0 if ``fwd_ret_h > 0`` and 0.0 otherwise (a flat window
  is 0.0); null when ``fwd_ret_h`` is null.
* ``fwd_class_h`` (``Int8``) indexes :data:`SIGNAL_CLASSES`.  With thresholds
  ``c1 <= c2 <= c3 <= c4``: STRONG_SELL if ``r < c1``, SELL if ``r < c2``,
  STRONG_BUY if ``r > c4``, BUY if ``r > c3``, otherwise HOLD (ties at a
  boundary go toward HOLD).
* **Point-in-time class thresholds.**  Unless fixed ``class_thresholds`` are
  given, the thresholds for session ``t`` are quantiles of forward returns
  whose windows had *closed by t's close*: a forward return is known at its
  end date (the date of row ``t+h`` of its symbol).  The pool holds every
  symbol's ``fwd_ret_h`` whose end date lies in the trailing
  ``quantile_window`` sessions ending at ``t``.  Without missing sessions this
  is exactly "fwd_ret_h of sessions ``<= t - h``"; with gaps the end date is the
  stricter (and correct) test.  A session gets thresholds only once a full
  window of end dates can exist (session index ``>= h + quantile_window - 1``,
  0-based over the sessions in ``prices``); earlier rows have a null class.
* Sessions are the distinct dates present in ``prices``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

SIGNAL_CLASSES: tuple[str, ...] = ("STRONG_SELL", "SELL", "HOLD", "BUY", "STRONG_BUY")
#: Label horizons in sessions; the one definition every layer uses.
HORIZONS: tuple[int, ...] = (1, 5, 20)
#: The longest horizon: a session's labels are complete once this many later sessions closed.
MAX_HORIZON: int = max(HORIZONS)
#: Trailing sessions of closed forward returns that point-in-time class thresholds pool.
QUANTILE_WINDOW: int = 252
DEFAULT_CLASS_QUANTILES: tuple[float, float, float, float] = (0.1, 0.3, 0.7, 0.9)
THRESHOLD_COLUMNS: tuple[str, ...] = ("threshold_1", "threshold_2", "threshold_3", "threshold_4")
_REQUIRED = ("date", "symbol", "adj_close")


def label_columns(horizons: Sequence[int] = HORIZONS) -> list[str]:
    """Label column names, grouped by horizon in the order given.

    >>> label_columns([1])
    ['fwd_ret_1', 'fwd_logret_1', 'fwd_dir_1', 'fwd_class_1']
    """
    _check_horizons(horizons)
    return [f"fwd_{kind}_{h}" for h in horizons for kind in ("ret", "logret", "dir", "class")]


def compute_labels(
    prices: pl.DataFrame,
    *,
    horizons: Sequence[int] = HORIZONS,
    class_quantiles: Sequence[float] = DEFAULT_CLASS_QUANTILES,
    class_thresholds: tuple[float, float, float, float] | None = None,
    quantile_window: int = QUANTILE_WINDOW,
) -> pl.DataFrame:
    """Forward-return labels for every (date, symbol) row of ``prices``.

    Parameters
    ----------
    prices
        Long-format prices with at least ``date``, ``symbol`` and ``adj_close``
        (see :mod:`market_assets.schema`); unique (date, symbol), positive
        ``adj_close``.
    horizons
        Positive, distinct numbers of sessions.
    class_quantiles
        Four increasing quantiles in (0, 1) used for point-in-time thresholds.
    class_thresholds
        Four non-decreasing fixed thresholds on ``fwd_ret_h`` (same for every
        horizon); when given, ``class_quantiles`` and ``quantile_window`` are
        not used.
    quantile_window
        Number of trailing sessions (of label end dates) pooled for the
        quantiles.

    Returns
    -------
    pl.DataFrame
        ``date``, ``symbol`` then :func:`label_columns` (``horizons``), sorted
        by date then symbol; returns and directions are Float64, classes Int8.
        See the module docstring for conventions.  Cost: one pass over the
        rows per horizon plus an incremental sorted pool for the quantiles.
    """
    _check_horizons(horizons)
    if class_thresholds is None:
        _check_quantiles(class_quantiles)
        _check_window(quantile_window)
    else:
        _check_thresholds(class_thresholds)
    base = _prepare(prices)
    sessions = base.get_column("date").unique().sort()
    out = base.select("date", "symbol")
    for h in horizons:
        fwd = _forward(base, h)
        if class_thresholds is None:
            thr = _pit_thresholds(fwd, sessions, h, class_quantiles, quantile_window)
        else:
            thr = pl.DataFrame({"date": sessions}).with_columns(
                pl.lit(float(v)).alias(c) for c, v in zip(THRESHOLD_COLUMNS, class_thresholds)
            )
        out = out.hstack(_label_block(fwd, thr, h).get_columns())
    return out.sort("date", "symbol")


def class_thresholds_point_in_time(
    prices: pl.DataFrame,
    horizon: int,
    *,
    class_quantiles: Sequence[float] = DEFAULT_CLASS_QUANTILES,
    quantile_window: int = QUANTILE_WINDOW,
) -> pl.DataFrame:
    """The class thresholds :func:`compute_labels` uses for each session.

    Returns
    -------
    pl.DataFrame
        ``date`` and :data:`THRESHOLD_COLUMNS` (null before enough history),
        one row per session of ``prices``.  The thresholds for ``t`` depend only
        on prices up to ``t`` (see the module docstring).
    """
    _check_horizons([horizon])
    _check_quantiles(class_quantiles)
    _check_window(quantile_window)
    base = _prepare(prices)
    sessions = base.get_column("date").unique().sort()
    return _pit_thresholds(_forward(base, horizon), sessions, horizon, class_quantiles, quantile_window)


def last_labelable_session(
    sessions: Sequence[date], latest_closed: date, horizon: int
) -> date | None:
    """The last session ``t`` whose label may be materialized.

    Labels for ``t`` need session ``t + horizon`` (counted in ``sessions``, the
    exchange calendar in increasing order, which may extend past
    ``latest_closed``) to have closed.  Returns None when no session qualifies.
    """
    _check_horizons([horizon])
    _check_sorted(sessions)
    closed = int(np.searchsorted(np.array(sessions, dtype="datetime64[D]"),
                                 np.datetime64(latest_closed, "D"), side="right"))
    index = closed - 1 - horizon
    return sessions[index] if index >= 0 else None


def _label_block(fwd: pl.DataFrame, thresholds: pl.DataFrame, h: int) -> pl.DataFrame:
    """The four label columns of horizon ``h``, in ``fwd``'s row order."""
    r = pl.col("fwd_ret")
    return fwd.join(thresholds, on="date", how="left", maintain_order="left").select(
        r.alias(f"fwd_ret_{h}"),
        pl.col("fwd_logret").alias(f"fwd_logret_{h}"),
        pl.when(r.is_null()).then(None).otherwise((r > 0).cast(pl.Float64)).alias(f"fwd_dir_{h}"),
        _class_expr(r).alias(f"fwd_class_{h}"),
    )


def _prepare(prices: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in _REQUIRED if c not in prices.columns]
    if missing:
        raise ValueError(f"prices: missing column(s) {missing}; expected at least {list(_REQUIRED)}, "
                         f"got {prices.columns}")
    base = prices.select(_REQUIRED).sort("symbol", "date")
    dup = base.filter(pl.struct("date", "symbol").is_duplicated())
    if dup.height:
        row = dup.row(0, named=True)
        raise ValueError(f"prices: duplicate (date, symbol) {row['date']}, {row['symbol']!r}; "
                         "expected one row per session and symbol (validate prices first)")
    bad = base.filter(pl.col("adj_close").is_null() | ~(pl.col("adj_close") > 0))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(f"prices: adj_close {row['adj_close']} for {row['symbol']!r} on {row['date']}; "
                         "expected a positive price (validate prices first)")
    return base.sort("date", "symbol")


def _forward(base: pl.DataFrame, h: int) -> pl.DataFrame:
    """date, symbol, fwd_ret, fwd_logret, end (date of row t+h), in base's row order."""
    ahead = pl.col("adj_close").shift(-h).over("symbol", order_by="date")
    return base.select(
        "date",
        "symbol",
        (ahead / pl.col("adj_close") - 1.0).alias("fwd_ret"),
        (ahead / pl.col("adj_close")).log().alias("fwd_logret"),
        pl.col("date").shift(-h).over("symbol", order_by="date").alias("end"),
    )


def _pit_thresholds(
    fwd: pl.DataFrame, sessions: pl.Series, h: int, quantiles: Sequence[float], window: int
) -> pl.DataFrame:
    """Quantiles of fwd_ret pooled over end dates in the trailing window, per session."""
    day = sessions.to_numpy().astype("datetime64[D]")
    known = fwd.filter(pl.col("fwd_ret").is_not_null()).sort("end")
    ends = np.searchsorted(day, known.get_column("end").to_numpy().astype("datetime64[D]"))
    values = known.get_column("fwd_ret").to_numpy()
    table = _rolling_pooled_quantiles(values, ends, len(day), h + window - 1, window, quantiles)
    return pl.DataFrame({"date": sessions}).with_columns(
        pl.Series(c, table[:, k]).fill_nan(None) for k, c in enumerate(THRESHOLD_COLUMNS)
    )


def _rolling_pooled_quantiles(
    values: np.ndarray, ends: np.ndarray, n: int, first: int, window: int, quantiles: Sequence[float]
) -> np.ndarray:
    """Row i: linear-interpolated quantiles of ``values`` with ``ends`` in (i - window, i].

    ``ends`` is sorted.  The pooled values are kept in one sorted array that is
    updated incrementally (insert the session that enters, delete the one that
    leaves), so a session costs a memory move instead of a fresh selection.
    """
    bounds = np.searchsorted(ends, np.arange(n + 1), side="left")  # values ending at i: bounds[i]:bounds[i+1]
    pool = np.empty(0)
    q = np.asarray(quantiles, dtype=np.float64)
    table = np.full((n, len(q)), np.nan)
    for i in range(n):
        entering = np.sort(values[bounds[i]:bounds[i + 1]])
        pool = np.insert(pool, np.searchsorted(pool, entering), entering)
        if i >= window:
            leaving = np.sort(values[bounds[i - window]:bounds[i - window + 1]])
            repeat = np.arange(len(leaving)) - np.searchsorted(leaving, leaving, side="left")
            pool = np.delete(pool, np.searchsorted(pool, leaving, side="left") + repeat)
        if i >= first and len(pool):
            pos = q * (len(pool) - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, len(pool) - 1)
            table[i] = pool[lo] + (pos - lo) * (pool[hi] - pool[lo])
    return table


def _class_expr(r: pl.Expr) -> pl.Expr:
    c1, c2, c3, c4 = (pl.col(c) for c in THRESHOLD_COLUMNS)
    return (
        pl.when(r.is_null() | c1.is_null()).then(None)
        .when(r < c1).then(0)
        .when(r < c2).then(1)
        .when(r > c4).then(4)
        .when(r > c3).then(3)
        .otherwise(2)
        .cast(pl.Int8)
    )


def _check_horizons(horizons: Sequence[int]) -> None:
    if len(horizons) == 0:
        raise ValueError("horizons is empty; expected at least one positive number of sessions, e.g. (1, 5, 20)")
    for h in horizons:
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0:
            raise ValueError(f"horizon {h!r} is not a positive integer number of sessions")
    if len(set(horizons)) != len(horizons):
        raise ValueError(f"horizons {list(horizons)} contain duplicates; expected distinct values")


def _check_quantiles(q: Sequence[float]) -> None:
    if len(q) != 4 or not all(0.0 < x < 1.0 for x in q) or any(b <= a for a, b in zip(q, q[1:])):
        raise ValueError(f"class_quantiles {tuple(q)}; expected four strictly increasing values in (0, 1), "
                         "e.g. (0.1, 0.3, 0.7, 0.9)")


def _check_thresholds(t: Sequence[float]) -> None:
    if len(t) != 4 or not all(np.isfinite(x) for x in t) or any(b < a for a, b in zip(t, t[1:])):
        raise ValueError(f"class_thresholds {tuple(t)}; expected four finite non-decreasing returns, "
                         "e.g. (-0.02, -0.005, 0.005, 0.02)")


def _check_window(window: int) -> None:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"quantile_window {window!r}; expected a positive number of sessions")


def _check_sorted(sessions: Sequence[date]) -> None:
    for a, b in zip(sessions, sessions[1:]):
        if not b > a:
            raise ValueError(f"sessions not strictly increasing at {a} -> {b}; expected a sorted calendar")
