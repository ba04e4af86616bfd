"""Tiny literal price frames for the validation tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from market_assets.quant.validation import ValidationConfig, ValidationResult, validate_prices
from market_assets.schema import PRICE_SCHEMA

D = dt.date
# Five consecutive XNYS sessions of January 2024.
S0, S1, S2, S3, S4 = D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 5), D(2024, 1, 8)
CHECK_NAMES = (
    "prices_have_schema",
    "values_are_present",
    "keys_are_unique",
    "symbols_are_known",
    "prices_are_positive",
    "ohlc_is_consistent",
    "volume_is_nonnegative",
    "no_unexplained_jumps",
    "sessions_are_complete",
)


def bar(date: dt.date | None, symbol: str | None = "AAA", *, open: float = 10.0, high: float = 11.0,
        low: float = 9.0, close: float = 10.5, adj_close: float | None = None, volume: float | None = 1000.0,
        source: str | None = "test") -> dict[str, Any]:
    """One raw row; ``adj_close`` defaults to ``close``."""
    return {"date": date, "symbol": symbol, "open": open, "high": high, "low": low, "close": close,
            "adj_close": close if adj_close is None else adj_close, "volume": volume, "source": source}


def prices(*bars: dict[str, Any]) -> pl.DataFrame:
    """Rows in the given order with exactly PRICE_SCHEMA."""
    return pl.DataFrame(list(bars), schema=PRICE_SCHEMA, orient="row")


def closes(symbol: str, values: list[float], dates: list[dt.date], **fields: Any) -> list[dict[str, Any]]:
    """One consistent bar per date with ``close = adj_close = value`` (open = close)."""
    return [bar(d, symbol, open=v, high=v * 1.01, low=v * 0.99, close=v, **fields) for d, v in zip(dates, values)]


def run(raw: pl.DataFrame, sessions: tuple[dt.date, ...] = (S0,), universe: tuple[str, ...] = ("AAA",),
        **config: Any) -> ValidationResult:
    return validate_prices(raw, sessions=sessions, universe=universe, config=ValidationConfig(**config))


def reasons(result: ValidationResult) -> list[str]:
    """The ``reasons`` of the rejections, in rejection order."""
    return result.rejections["reasons"].to_list()


def failed(result: ValidationResult) -> dict[str, str]:
    """check name -> severity of the failed outcomes."""
    return {o.check_name: o.severity for o in result.outcomes if not o.passed}
