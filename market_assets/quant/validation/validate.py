"""``validate_prices``: raw prices in, validated rows, rejections and outcomes out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl

from market_assets.quant.validation.expectations import evaluate_expectations
from market_assets.quant.validation.outcomes import (
    completeness_outcome,
    not_evaluated_outcome,
    row_rule_outcome,
    schema_outcome,
)
from market_assets.quant.validation.received import RECEIVED_DATE, received_date_problems
from market_assets.quant.validation.result import ValidationConfig, ValidationResult
from market_assets.quant.validation.rules import (
    REASON_CODES,
    ROW,
    RULES,
    SESSION,
    add_rule_columns,
    evaluation_frame,
    schema_problems,
)
from market_assets.schema import (
    PRICE_COLUMNS,
    REJECTION_SCHEMA,
    conform_prices,
    empty_prices,
    validate_symbol,
)

_ROW_RULES = RULES[1:-1]  # between prices_have_schema and sessions_are_complete


def validate_prices(
    raw: pl.DataFrame,
    *,
    sessions: Sequence[dt.date],
    universe: Sequence[str],
    config: ValidationConfig = ValidationConfig(),
) -> ValidationResult:
    """Split raw prices into validated rows and rejections, with one outcome per check.

    Parameters
    ----------
    raw
        Raw prices (columns of ``PRICE_SCHEMA``, long format, any order, any
        defects) for the target ``sessions`` plus lookback rows dated before
        the first session, which only serve as jump reference.  Rows stored
        through :func:`~market_assets.quant.validation.received.store_under_sessions`
        carry ``received_date``: every rule then judges the date as received,
        ``date`` is the session storing the row (a row is lookback when that
        session is before the first one), and a row whose received date is not
        the session storing it (off-session or undated) is rejected as
        ``date_not_in_sessions`` under that session.
    sessions
        Target session dates (``datetime.date``, not ``datetime``).
    universe
        Symbols expected in every session; each must pass ``validate_symbol``.
    config
        Thresholds.

    Returns
    -------
    ValidationResult
        ``validated``: rows passing every row rule, sorted by (date, symbol),
        unique (date, symbol).  ``rejections``: every other non-lookback row
        as received plus ``reasons`` (codes joined by ";" in rule order),
        sorted by (date, symbol, raw position); with ``received_date`` in
        ``raw``, ``date`` is the storing session and ``received_date`` follows
        it.  Undated rows fail both ``null_value`` and ``date_not_in_sessions``.
        ``outcomes``: one per check
        in :data:`~market_assets.quant.validation.rules.RULES` order.
        If the schema is wrong, both frames are empty (the rows cannot be
        represented in the schema) and ``prices_have_schema`` fails with ERROR.

    Raises
    ------
    TypeError, ValueError, InvalidSymbolError
        For a ``raw`` that is not a polars DataFrame, empty or non-date
        ``sessions``, or an empty or invalid ``universe`` (caller mistakes, not
        data defects).
    """
    sessions = _checked_sessions(sessions)
    universe = _checked_universe(universe)
    if not isinstance(raw, pl.DataFrame):
        raise TypeError(f"raw must be a polars DataFrame with the price schema, got {type(raw).__name__}")
    problems = schema_problems(raw) + received_date_problems(raw)
    received = RECEIVED_DATE in raw.columns
    if problems:
        outcomes = (schema_outcome(problems), *(not_evaluated_outcome(rule) for rule in RULES[1:]))
        return ValidationResult(empty_prices(), pl.DataFrame(schema=_rejection_schema(received)), outcomes)
    prices = _judged_by_received_date(raw, conform_prices(raw, where="validate_prices(raw)"))
    target = add_rule_columns(
        prices, sessions=sessions, universe=universe, reference_sessions=config.jump_reference_sessions
    )
    masks = evaluate_expectations(evaluation_frame(target), config)
    judged = target.with_columns(reasons=_reasons(masks))
    # in-session rows are stored under their own date: date == SESSION for every validated row
    validated = judged.filter(pl.col("reasons") == "").select(PRICE_COLUMNS).sort("date", "symbol")
    rejections = (
        judged.filter(pl.col("reasons") != "")
        .sort(SESSION, "symbol", ROW, nulls_last=True)
        .with_columns(pl.col("date").alias(RECEIVED_DATE), pl.col(SESSION).alias("date"))
        .select(list(_rejection_schema(received)))
    )
    outcomes = (
        schema_outcome([]),
        *(row_rule_outcome(rule, judged, masks, config) for rule in _ROW_RULES),
        completeness_outcome(validated, judged, masks["date_not_in_sessions"], sessions, universe, config),
    )
    return ValidationResult(validated, rejections, outcomes)


def _rejection_schema(received: bool) -> dict[str, pl.DataType]:
    """REJECTION_SCHEMA, with ``received_date`` after ``date`` when the raw rows carry it."""
    if not received:
        return REJECTION_SCHEMA
    return {"date": pl.Date(), RECEIVED_DATE: pl.Date(), **{k: v for k, v in REJECTION_SCHEMA.items() if k != "date"}}


def _judged_by_received_date(raw: pl.DataFrame, prices: pl.DataFrame) -> pl.DataFrame:
    """``prices`` with :data:`SESSION` (the session storing each row) and ``date`` as received."""
    if RECEIVED_DATE not in raw.columns:
        return prices.with_columns(pl.col("date").alias(SESSION))
    return prices.with_columns(
        pl.col("date").alias(SESSION), date=raw[RECEIVED_DATE].cast(pl.Date)
    )


def _reasons(masks: dict[str, np.ndarray]) -> pl.Expr:
    """Failed reason codes of each row joined by ";" in rule order ("" when none)."""
    flags = [pl.when(pl.lit(pl.Series(masks[code]))).then(pl.lit(code)) for code in REASON_CODES]
    return pl.concat_str(flags, separator=";", ignore_nulls=True)


def _checked_sessions(sessions: Sequence[dt.date]) -> list[dt.date]:
    """Sorted unique session dates; TypeError or ValueError naming the bad value."""
    values = list(sessions)
    if not values:
        raise ValueError("sessions is empty: expected at least one target session date")
    for value in values:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise TypeError(
                f"sessions must hold datetime.date values, got {value!r} ({type(value).__name__}); "
                "pass session dates, e.g. exchange_calendars session labels converted with .date()"
            )
    return sorted(set(values))


def _checked_universe(universe: Sequence[str]) -> list[str]:
    """Sorted unique symbols, each passing ``validate_symbol``."""
    if isinstance(universe, str):
        raise TypeError(f"universe must be a sequence of symbols, got the string {universe!r}")
    symbols = sorted({validate_symbol(symbol) for symbol in universe})
    if not symbols:
        raise ValueError("universe is empty: expected at least one symbol")
    return symbols
