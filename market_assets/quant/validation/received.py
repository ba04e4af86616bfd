"""Rows as received and the session partition that stores them (pure).

Partitions are sessions: every stored row lives in one session's file, keyed
by its ``date`` column.  A provider can deliver a row dated on a weekend or a
holiday, or without a date.  Such a row is kept, never dropped: it is stored
in a session's partition and rejected there by validation with the reason
``date_not_in_sessions``, so ``raw = validated + rejected`` holds.

Storage rule (:func:`store_under_sessions`), for the sessions a run fetched:

* a row dated on one of those sessions is stored under that session;
* a row dated on another day is stored under the nearest of those sessions on
  or before its date (a Saturday under the Friday, a holiday under the
  session before it, a day after the last session under the last session);
* a row dated before the first session, or without a date, is stored under the
  first session (the run fetched it for its range, whose first session it is).

``date`` is then the storage session and ``received_date`` keeps the date as
received (null when the row came undated), so nothing is rewritten without a
trace.  :func:`~market_assets.quant.validation.validate_prices` judges every
row by its received date: a row whose received date is not the session it is
stored under is off-session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

#: The date a row carried when the source delivered it (null: undated); ``date``
#: is the session partition the row is stored under.
RECEIVED_DATE = "received_date"


def store_under_sessions(received: pl.DataFrame, sessions: Sequence[dt.date]) -> pl.DataFrame:
    """``received`` with ``date`` set to the session that stores each row, and :data:`RECEIVED_DATE`.

    Parameters
    ----------
    received
        Rows as a source delivered them, with a ``date`` column (``pl.Date``,
        nulls allowed); row order and every other column are kept.
    sessions
        The sessions the rows were fetched for (any order; at least one).

    Returns
    -------
    pl.DataFrame
        The same rows in the same order: ``date`` is the storage session (see
        the module's rule) and :data:`RECEIVED_DATE`, placed right after it, the
        date as received.

    Raises
    ------
    ValueError
        For empty ``sessions`` or a frame that already has :data:`RECEIVED_DATE`
        (its rows were stored once: storing them again would lose the received date).
    """
    if not sessions:
        raise ValueError("sessions is empty: expected the session dates the rows were fetched for")
    if RECEIVED_DATE in received.columns:
        raise ValueError(
            f"the rows already have a {RECEIVED_DATE!r} column: they were assigned to sessions once; "
            "pass the rows as the source delivered them"
        )
    ordered = pl.Series(sorted(set(sessions)), dtype=pl.Date)
    dated = received["date"].cast(pl.Date)
    # index of the last session on or before the date; -1 before the first session
    position = ordered.search_sorted(dated.fill_null(dt.date.min), side="right").cast(pl.Int64) - 1
    storage = ordered.gather(position.clip(lower_bound=0))
    columns = received.columns
    after_date = columns.index("date") + 1
    return received.with_columns(storage.alias("date"), dated.alias(RECEIVED_DATE)).select(
        *columns[:after_date], RECEIVED_DATE, *columns[after_date:]
    )


def off_session(frame: pl.DataFrame) -> pl.Series:
    """True for each stored row whose received date is not the session storing it (or is null).

    A frame without :data:`RECEIVED_DATE` (rows not stored through
    :func:`store_under_sessions`) has no off-session row by this test.
    """
    if RECEIVED_DATE not in frame.columns:
        return pl.Series("off_session", [False] * frame.height, dtype=pl.Boolean)
    same = (pl.col(RECEIVED_DATE) == pl.col("date")).fill_null(False)
    return frame.select((~same).alias("off_session")).to_series()


def received_date_problems(frame: pl.DataFrame) -> list[str]:
    """Schema problems of an optional :data:`RECEIVED_DATE` column (empty if absent or a date)."""
    if RECEIVED_DATE not in frame.columns:
        return []
    found = frame.schema[RECEIVED_DATE]
    if found in (pl.Date(), pl.Null()):
        return []
    return [f"column {RECEIVED_DATE!r} has dtype {found}, expected {pl.Date()}"]
