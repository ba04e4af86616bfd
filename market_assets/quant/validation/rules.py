"""The rule table and the polars helper columns that Great Expectations checks.

Cross-row facts (is this row a repeated copy, how far did adj_close move
from its recent median, is the symbol in the universe) are computed here in
polars as helper columns; every pass/fail decision is then an expectation on
a column, listed in :func:`expectation_specs` and run by
:mod:`market_assets.quant.validation.expectations`.

Conventions
-----------
* The evaluation frame has the raw values with NaN and +-inf turned into
  nulls, so one "not null" expectation catches null, NaN and infinities, and
  the other expectations (which skip nulls) do not report the same value twice.
* OHLC gaps are measured only on rows whose four prices are present and
  positive, relative to the row's largest price:
  ``high_gap = (max(open, close) - high) / max(o, h, l, c)`` and
  ``low_gap = (low - min(open, close)) / max(o, h, l, c)``; a row is
  inconsistent when a gap exceeds the tolerance.  ``high < low`` implies one of
  the two gaps is positive, so it needs no expectation of its own.
* The jump reference of a row dated t is the median adj_close of its symbol
  over the ``reference_sessions`` latest dates before t that have a finite
  positive adj_close (several rows on one date count once, by their median).
  Rows of every kind count, lookback and rejected rows included: the median
  keeps one bad tick from poisoning the next days.  A symbol's first row has
  no reference and is not jump-checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from market_assets.quant.validation.result import ValidationConfig
from market_assets.schema import PRICE_SCHEMA, PRICE_VALUE_COLUMNS

ROW = "_row"  # position of the row in the raw input
COPY_INDEX = "_copy_index"  # 0 for the first of identical rows, 1, 2 ... for later copies
KEY_VERSIONS = "_key_versions"  # distinct value versions of the row's (date, symbol)
SYMBOL_KNOWN = "_symbol_known"
IN_SESSIONS = "_in_sessions"
SESSION = "_session"  # the session partition storing the row (see received.py); date is as received
HIGH_GAP = "_high_gap"
LOW_GAP = "_low_gap"
JUMP_REFERENCE = "_jump_reference"
LOG_JUMP = "_log_jump"

NUMERIC_COLUMNS: tuple[str, ...] = (*PRICE_VALUE_COLUMNS, "volume")
# A duplicate is judged on the key and the values; rows differing only in
# ``source`` are copies of the same bar, not a conflict.
KEY_AND_VALUES: tuple[str, ...] = ("date", "symbol", *NUMERIC_COLUMNS)


@dataclass(frozen=True)
class Rule:
    """A check: its asset-check name, UI description and reason codes."""

    check_name: str
    description: str
    reason_codes: tuple[str, ...]


RULES: tuple[Rule, ...] = (
    Rule("prices_have_schema",
         "Raw prices have every price column with the expected dtype.", ()),
    Rule("values_are_present",
         "No date, symbol, price, volume or source is null, NaN or infinite.", ("null_value",)),
    Rule("keys_are_unique",
         "One row per (date, symbol): repeated copies and conflicting versions are rejected.",
         ("duplicate_row", "duplicate_key_conflict")),
    Rule("symbols_are_known",
         "Every symbol belongs to the configured universe.", ("unknown_symbol",)),
    Rule("prices_are_positive",
         "open, high, low, close and adj_close are all greater than zero.", ("nonpositive_price",)),
    Rule("ohlc_is_consistent",
         "high >= max(open, close) and low <= min(open, close), within float tolerance.",
         ("ohlc_inconsistent",)),
    Rule("volume_is_nonnegative",
         "volume is zero or more.", ("negative_volume",)),
    Rule("no_unexplained_jumps",
         "adj_close stays within the jump limit of its recent median (splits pass).", ("unexplained_jump",)),
    Rule("sessions_are_complete",
         "Every (session, symbol) of the universe has a valid row; no row is off-session.",
         ("date_not_in_sessions",)),
)
REASON_CODES: tuple[str, ...] = tuple(code for rule in RULES for code in rule.reason_codes)


@dataclass(frozen=True)
class ExpectationSpec:
    """One Great Expectations expectation as plain data (class name and kwargs)."""

    check_name: str
    reason_code: str
    expectation: str
    kwargs: dict[str, Any]


def expectation_specs(config: ValidationConfig) -> tuple[ExpectationSpec, ...]:
    """The expectations of the suite, in rule order, each tagged with its reason code."""
    tol, jump = config.ohlc_rel_tolerance, config.max_abs_log_jump
    not_null, between, in_set = (
        "ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToBeBetween", "ExpectColumnValuesToBeInSet"
    )
    table: list[tuple[str, str, str, dict[str, Any]]] = [
        *(("values_are_present", "null_value", not_null, {"column": c}) for c in PRICE_SCHEMA),
        ("keys_are_unique", "duplicate_row", between, {"column": COPY_INDEX, "max_value": 0}),
        ("keys_are_unique", "duplicate_key_conflict", between, {"column": KEY_VERSIONS, "max_value": 1}),
        ("symbols_are_known", "unknown_symbol", in_set, {"column": SYMBOL_KNOWN, "value_set": [True]}),
        *(("prices_are_positive", "nonpositive_price", between,
           {"column": c, "min_value": 0, "strict_min": True}) for c in PRICE_VALUE_COLUMNS),
        ("ohlc_is_consistent", "ohlc_inconsistent", between, {"column": HIGH_GAP, "max_value": tol}),
        ("ohlc_is_consistent", "ohlc_inconsistent", between, {"column": LOW_GAP, "max_value": tol}),
        ("volume_is_nonnegative", "negative_volume", between, {"column": "volume", "min_value": 0}),
        ("no_unexplained_jumps", "unexplained_jump", between,
         {"column": LOG_JUMP, "min_value": -jump, "max_value": jump}),
        ("sessions_are_complete", "date_not_in_sessions", in_set,
         {"column": IN_SESSIONS, "value_set": [True]}),
    ]
    return tuple(ExpectationSpec(*row) for row in table)


def schema_problems(frame: pl.DataFrame) -> list[str]:
    """Every way ``frame`` misses :data:`PRICE_SCHEMA`, one message each (empty if none).

    Follows :func:`market_assets.schema.conform_prices`: numeric and all-null
    columns widen to Float64 where the schema says float; extra columns are
    ignored.
    """
    problems = []
    for name, expected in PRICE_SCHEMA.items():
        if name not in frame.columns:
            problems.append(f"missing column {name!r} (expected dtype {expected})")
            continue
        found = frame.schema[name]
        widens = expected == pl.Float64() and found.is_numeric()
        if found != expected and not widens and found != pl.Null():
            problems.append(f"column {name!r} has dtype {found}, expected {expected}")
    return problems


def add_rule_columns(
    prices: pl.DataFrame,
    *,
    sessions: Sequence[dt.date],
    universe: Sequence[str],
    reference_sessions: int,
) -> pl.DataFrame:
    """The target rows of ``prices`` in raw order, with :data:`ROW` and helper columns.

    Parameters
    ----------
    prices
        Conformed raw prices (exactly PRICE_SCHEMA), target sessions plus lookback;
        optionally :data:`SESSION`, the session storing each row (``date`` is
        then the date as received), else ``date`` is both.
    sessions, universe
        Target session dates and known symbols.
    reference_sessions
        Dates in the jump reference median.

    Returns
    -------
    pl.DataFrame
        Rows stored on or after the first session, or without a date (lookback
        rows, stored before it, only feed the jump reference).  A row is in the
        sessions (:data:`IN_SESSIONS`) when its date is a target session and
        the session storing it; an undated row is not.
    """
    indexed = prices.with_row_index(ROW)
    reference = jump_reference(indexed, reference_sessions)
    stored = pl.col(SESSION) if SESSION in prices.columns else pl.col("date")
    target = indexed.filter(stored.is_null() | (stored >= min(sessions)))
    target = target.join(reference, on=["symbol", "date"], how="left", maintain_order="left")
    date, symbol = pl.col("date"), pl.col("symbol")
    in_sessions = date.is_in(pl.Series(sessions, dtype=pl.Date)) & (date == stored)
    return _with_duplicate_columns(target).with_columns(
        pl.when(symbol.is_not_null()).then(symbol.is_in(list(universe))).alias(SYMBOL_KNOWN),
        in_sessions.fill_null(False).alias(IN_SESSIONS),
        *_ohlc_gaps(),
        _log_jump(),
    )


def _with_duplicate_columns(target: pl.DataFrame) -> pl.DataFrame:
    """Add :data:`COPY_INDEX` and :data:`KEY_VERSIONS` (the latter null without a full key).

    Both are computed only on rows sharing their (date, symbol), usually none:
    a window over all value columns of a million rows costs seconds.
    """
    shared = target.filter(pl.len().over("date", "symbol") > 1).select(
        ROW,
        pl.int_range(pl.len()).over(KEY_AND_VALUES).alias(COPY_INDEX),
        pl.struct(NUMERIC_COLUMNS).n_unique().over("date", "symbol").alias(KEY_VERSIONS),
    )
    has_key = pl.col("date").is_not_null() & pl.col("symbol").is_not_null()
    return target.join(shared, on=ROW, how="left", maintain_order="left").with_columns(
        pl.col(COPY_INDEX).fill_null(0),
        pl.when(has_key).then(pl.col(KEY_VERSIONS).fill_null(1)),
    )


def jump_reference(indexed: pl.DataFrame, reference_sessions: int) -> pl.DataFrame:
    """Per (symbol, date) the median adj_close of the symbol's previous dates.

    Returns columns ``symbol``, ``date``, :data:`JUMP_REFERENCE` (null for a
    symbol's first date).  See the module conventions.
    """
    adj = pl.col("adj_close")
    has_key = pl.col("date").is_not_null() & pl.col("symbol").is_not_null()
    usable = has_key & adj.is_finite() & (adj > 0)
    daily = indexed.filter(usable).select("symbol", "date", adj.alias("_day_median")).sort("symbol", "date")
    if daily.select(pl.struct("symbol", "date").is_duplicated().any()).item():
        daily = daily.group_by("symbol", "date").agg(pl.col("_day_median").median()).sort("symbol", "date")
    window = pl.col("_day_median").rolling_median(window_size=reference_sessions, min_samples=1)
    return daily.select("symbol", "date", window.shift(1).over("symbol").alias(JUMP_REFERENCE))


def evaluation_frame(target: pl.DataFrame) -> pl.DataFrame:
    """The columns the expectations read, with NaN and +-inf as nulls."""
    numeric = [_finite(c).alias(c) for c in NUMERIC_COLUMNS]
    helpers = [COPY_INDEX, KEY_VERSIONS, SYMBOL_KNOWN, IN_SESSIONS, HIGH_GAP, LOW_GAP, LOG_JUMP]
    return target.select("date", "symbol", *numeric, "source", *helpers)


def _finite(name: str) -> pl.Expr:
    """The column with NaN and +-inf replaced by null."""
    column = pl.col(name)
    return pl.when(column.is_finite()).then(column)


def _log_jump() -> pl.Expr:
    """ln(adj_close / reference), null unless adj_close is finite and positive."""
    adj = _finite("adj_close")
    return pl.when(adj > 0).then((adj / pl.col(JUMP_REFERENCE)).log()).alias(LOG_JUMP)


def _ohlc_gaps() -> list[pl.Expr]:
    o, h, l, c = (_finite(name) for name in ("open", "high", "low", "close"))
    usable = pl.all_horizontal(x > 0 for x in (o, h, l, c))
    scale = pl.max_horizontal(o, h, l, c)
    return [
        pl.when(usable).then((pl.max_horizontal(o, c) - h) / scale).alias(HIGH_GAP),
        pl.when(usable).then((l - pl.min_horizontal(o, c)) / scale).alias(LOW_GAP),
    ]
