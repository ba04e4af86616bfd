"""Monthly refits of the market-regime HMM for a batch of sessions (no dagster here).

The model used for the sessions of month ``M`` is fixed by ``M`` alone, never
by how a run batches its sessions:

* it is fitted on the :data:`FIT_SESSIONS` complete market rows (see
  :func:`market_assets.quant.regimes.market_series`) dated before the first
  *calendar session* of ``M`` (from :func:`market_assets.calendars.sessions_between`,
  so a session missing from the data does not move the month start);
* its forward filter starts at the first row of that fit window and runs
  through the session, so the probability of a session is the same whether it
  is computed alone (a nightly run on the 15th), inside the month, or inside a
  ten-year backfill.

Data needed: a session can be preceded by :data:`MAX_MONTH_SESSIONS` - 1
sessions of its own month; before the month start come the fit rows, and
before those the :data:`VOL_WINDOW` sessions until the first complete row
(a return needs the previous session, the volatility ``VOL_WINDOW`` returns).
:data:`LOOKBACK_SESSIONS` is that sum: the sessions of history to load before
the first session of a run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import polars as pl

FIT_SESSIONS = 504
VOL_WINDOW = 20
MIN_FIT_ROWS = 120
#: Most sessions a calendar month has on XNYS (23 weekdays, no holiday); a
#: session has at most this many minus one sessions of its month before it.
MAX_MONTH_SESSIONS = 23
LOOKBACK_SESSIONS = (MAX_MONTH_SESSIONS - 1) + FIT_SESSIONS + VOL_WINDOW
#: A symbol-independent warm-up: the first month with a model starts after this many sessions.
REGIME_WARMUP_SESSIONS = VOL_WINDOW + MIN_FIT_ROWS + MAX_MONTH_SESSIONS

REGIME_SCHEMA = {
    "date": pl.Date(), "regime": pl.String(), "p_bull": pl.Float64(),
    "p_bear": pl.Float64(), "p_sideways": pl.Float64(), "fit_end": pl.Date(),
}


@dataclass(frozen=True)
class MonthFit:
    """How one month's model was fitted (or why not), for logs.

    ``fit_rows`` complete market rows from ``fit_start`` to ``fit_end``, all
    before ``month_start``; no model (``fit_end`` None) with fewer than
    :data:`MIN_FIT_ROWS`.
    """

    month_start: dt.date
    sessions: int
    fit_rows: int
    fit_start: dt.date | None
    fit_end: dt.date | None

    @property
    def fitted(self) -> bool:
        return self.fit_end is not None

    def describe(self) -> str:
        month = f"{self.month_start:%Y-%m}"
        if not self.fitted:
            return (f"{month}: only {self.fit_rows} complete market rows before {self.month_start} "
                    f"(need {MIN_FIT_ROWS}); regimes left null for {self.sessions} session(s)")
        return (f"{month}: regime HMM fitted on {self.fit_rows} sessions {self.fit_start}..{self.fit_end} "
                f"for {self.sessions} session(s)")


def month_starts(calendar: str, sessions: Sequence[dt.date]) -> dict[tuple[int, int], dt.date]:
    """(year, month) -> first session of that month on ``calendar``, for the months of ``sessions``."""
    if not sessions:
        return {}
    from market_assets.calendars import sessions_between

    first, last = min(sessions), max(sessions)
    months = {(d.year, d.month) for d in sessions}
    out: dict[tuple[int, int], dt.date] = {}
    for day in sessions_between(calendar, first.replace(day=1), last):
        if (day.year, day.month) in months:
            out.setdefault((day.year, day.month), day)
    missing = sorted(months - set(out))
    if missing:
        raise ValueError(f"calendar {calendar!r} has no session in month(s) {missing} of the sessions given; "
                         "the sessions do not belong to this calendar")
    return out


def regime_probabilities_for(
    prices: pl.DataFrame, sessions: Sequence[dt.date], *, calendar: str, n_init: int = 5, random_state: int = 0
) -> tuple[pl.DataFrame, list[MonthFit]]:
    """Regime probabilities of ``sessions`` from each month's model, and how each month was fitted.

    Parameters
    ----------
    prices
        Validated prices (``date, symbol, adj_close``) covering at least
        :data:`LOOKBACK_SESSIONS` sessions before the first of ``sessions``.
    sessions
        The sessions to label (any order, any months).
    calendar
        exchange_calendars code whose sessions define each month's start.

    Returns
    -------
    (pl.DataFrame, list[MonthFit])
        ``date, regime, p_bull, p_bear, p_sideways, fit_end`` (:data:`REGIME_SCHEMA`),
        one row per session sorted by date, null where the month has no model
        or the session no complete market row; one :class:`MonthFit` per month.
    """
    from market_assets.quant.regimes import market_series

    days = sorted(set(sessions))
    starts = month_starts(calendar, days)
    market = market_series(prices, vol_window=VOL_WINDOW)
    frames, fits = [], []
    for month, in_month in groupby(days, key=lambda d: (d.year, d.month)):
        frame, fit = _month(market, list(in_month), starts[month], n_init=n_init, random_state=random_state)
        frames.append(frame)
        fits.append(fit)
    if not frames:
        return pl.DataFrame(schema=REGIME_SCHEMA), fits
    return pl.concat(frames, how="vertical"), fits


def _month(
    market: pl.DataFrame, days: list[dt.date], month_start: dt.date, *, n_init: int, random_state: int
) -> tuple[pl.DataFrame, MonthFit]:
    """Probabilities for ``days`` (one calendar month) from the model fitted before ``month_start``."""
    from market_assets.quant.regimes import fit_regime_model, regime_probabilities

    history = market.filter(pl.col("date") < month_start).drop_nulls().tail(FIT_SESSIONS)
    frame = pl.DataFrame({"date": days}, schema={"date": pl.Date()})
    if history.height < MIN_FIT_ROWS:
        fit = MonthFit(month_start, len(days), history.height, None, None)
        return frame.with_columns(
            pl.lit(None, dtype=dtype).alias(name) for name, dtype in REGIME_SCHEMA.items() if name != "date"
        ), fit
    fit_start, fit_end = history["date"].min(), history["date"].max()
    model = fit_regime_model(history, fit_end=fit_end, n_init=n_init, random_state=random_state)
    window = market.filter(pl.col("date").is_between(fit_start, days[-1]))
    probabilities = regime_probabilities(model, window).select("date", "regime", "p_bull", "p_bear", "p_sideways")
    out = (
        frame.join(probabilities, on="date", how="left")
        .with_columns(pl.lit(fit_end).alias("fit_end"))
        .select(list(REGIME_SCHEMA))
    )
    return out, MonthFit(month_start, len(days), history.height, fit_start, fit_end)
