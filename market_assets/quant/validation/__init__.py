"""Validation of raw daily prices: validated rows, rejections with reasons, check outcomes.

:func:`validate_prices` evaluates nine checks, in this order (their names are
the Dagster asset-check names)::

    prices_have_schema      table  ERROR                 -
    values_are_present      row    WARN                  null_value
    keys_are_unique         row    WARN                  duplicate_row, duplicate_key_conflict
    symbols_are_known       row    WARN                  unknown_symbol
    prices_are_positive     row    WARN                  nonpositive_price
    ohlc_is_consistent      row    WARN                  ohlc_inconsistent
    volume_is_nonnegative   row    WARN                  negative_volume
    no_unexplained_jumps    row    WARN                  unexplained_jump
    sessions_are_complete   table  WARN, or ERROR        date_not_in_sessions

Great Expectations evaluates every rule (one suite, one run per batch, see
:func:`build_expectation_suite`); cross-row facts are polars helper columns.

Severity policy
---------------
* Row rules are **WARN**.  Their failing rows are rejected (kept in
  ``rejections`` with reason codes), so the rows flowing downstream are clean;
  the UI shows a failed warning-level check with counts and examples.
* **ERROR** (blocks downstream) only when the batch as a whole cannot be
  trusted:

  - ``prices_have_schema`` fails (a column is missing or has a dtype that
    does not widen to the schema's).  Nothing raises: ``validated`` and
    ``rejections`` are empty, because rows without the schema cannot be
    represented in it, the outcome lists every problem (column, dtype found,
    dtype expected), and the other checks are returned with
    ``evaluated=False``.  The raw partition stays as received.
  - ``sessions_are_complete`` when, in any one session, the share of the
    universe's cells that are missing or rejected exceeds ``config.max_bad_share``
    (default 0.2), or when a target session has no valid row at all (an empty
    frame included).  With fewer bad cells it fails as WARN, listing the
    missing or rejected cells.

Caller mistakes (``raw`` not a polars DataFrame, empty or non-date
``sessions``, an empty or invalid ``universe``, a bad ``ValidationConfig``)
raise TypeError or ValueError: they are bugs, not data defects.

Row rules and conventions
-------------------------
* ``null_value``: null, NaN or +-inf in any column (date, symbol, prices,
  volume, source).
* ``duplicate_row``: a later copy of a row with the same date, symbol and
  values (``source`` may differ); the first copy is kept.
  ``duplicate_key_conflict``: every row of a (date, symbol) that holds more
  than one version of the values, as the right one cannot be known.
* ``unknown_symbol``: symbol not in ``universe`` (compared as a string, never
  used as a path or URL).
* ``nonpositive_price``: open, high, low, close or adj_close <= 0.
* ``ohlc_inconsistent``: high < max(open, close) or low > min(open, close)
  (so also high < low) by more than ``ohlc_rel_tolerance`` (1e-9) of the
  row's largest price; checked only when the four prices are positive.
* ``negative_volume``: volume < 0.
* ``unexplained_jump``: |ln(adj_close / reference)| > ``max_abs_log_jump``
  (1.0, i.e. below -63% or above +172%), the reference being the median
  adj_close of the symbol's ``jump_reference_sessions`` (5) previous dates
  with a positive adj_close.  Real crashes (AAPL -52% on 2000-09-29) pass; a
  90% one-day drop does not.  Splits move ``close`` but not ``adj_close`` and
  pass.  The median means one bad tick does not poison the next days (the
  row after a spike passes); a persistent unexplained level shift is
  rejected until it fills half the reference window.  A symbol's first date
  has no reference and is not jump-checked.
* ``date_not_in_sessions`` (under ``sessions_are_complete``): a row dated
  after the first session that is not one of ``sessions``, or an undated row
  (which also fails ``null_value``).  Rows dated before the first session are
  lookback: never output, never rejected.

Stored rows (:mod:`~market_assets.quant.validation.received`)
-------------------------------------------------------------
``raw_prices`` keeps off-session and undated rows: it stores each under a
session (the nearest on or before its date, else the run's first) with the
date as received in ``received_date``.  When ``raw`` has that column, every
rule judges the received date, ``date`` says which session stores the row
(lookback when before the first session), a row whose received date is not
its storing session fails ``date_not_in_sessions``, and ``rejections`` keep
``date`` (the storing session, so the row returns to that partition) and
``received_date``.

Invariant: ``len(validated) + len(rejections)`` equals the number of raw rows
not dated (stored) before the first session whenever the schema check passed.
"""

from market_assets.quant.validation.expectations import build_expectation_suite
from market_assets.quant.validation.result import RuleOutcome, Severity, ValidationConfig, ValidationResult
from market_assets.quant.validation.rules import REASON_CODES, RULES
from market_assets.quant.validation.validate import validate_prices

__all__ = [
    "REASON_CODES",
    "RULES",
    "RuleOutcome",
    "Severity",
    "ValidationConfig",
    "ValidationResult",
    "build_expectation_suite",
    "validate_prices",
]
