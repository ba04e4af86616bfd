"""Data contracts shared by every layer: column names, dtypes and symbol rules.

Conventions
-----------
* Prices are long format, one row per (``date``, ``symbol``), sorted by
  ``date`` then ``symbol``.
* ``date`` is the exchange session date (``pl.Date``), not a timestamp.
* ``close`` is the price as traded that day (not split-adjusted); ``adj_close``
  is adjusted for splits and dividends, so ``adj_close / close`` moves only on
  corporate actions.
* ``volume`` is a float so that providers with fractional volume fit; it is
  never negative in validated data.
* ``source`` names the provider that produced the row (``"synthetic"``,
  ``"bundled"``, ``"files"``, ``"stooq"``, ``"alpha_vantage"``).
"""

from __future__ import annotations

import re

import polars as pl

#: The key of every long-format table: one row per (session, symbol).
KEY_COLUMNS: tuple[str, str] = ("date", "symbol")

PRICE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "symbol": pl.String(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "adj_close": pl.Float64(),
    "volume": pl.Float64(),
    "source": pl.String(),
}
PRICE_COLUMNS: tuple[str, ...] = tuple(PRICE_SCHEMA)
PRICE_COLUMN_DESCRIPTIONS: dict[str, str] = {
    "date": "Exchange session date (the partition key).",
    "symbol": "Ticker, upper case (see SYMBOL_PATTERN).",
    "open": "Opening price as traded (not adjusted).",
    "high": "Highest price of the session as traded.",
    "low": "Lowest price of the session as traded.",
    "close": "Closing price as traded (not adjusted for splits or dividends).",
    "adj_close": "Closing price adjusted for splits and dividends; adj_close / close moves only on corporate actions.",
    "volume": "Shares traded in the session (as reported, not split-adjusted).",
    "source": "Provider that produced the row: synthetic, bundled, files, stooq or alpha_vantage.",
}
PRICE_VALUE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close")

# A rejected row is the raw row as received plus the reason codes that failed,
# joined by ";" in rule order (e.g. "ohlc_inconsistent;nonpositive_price").
REJECTION_SCHEMA: dict[str, pl.DataType] = {**PRICE_SCHEMA, "reasons": pl.String()}

# Upper-case letters, digits and . - ^ = _ (e.g. "AAPL", "BRK.B", "^GSPC",
# "EURUSD=X", "SYN007"), 1 to 20 characters, starting with a letter, a digit or ^.
# Nothing that could climb a path ("..", "/") or break a URL ("&", "?", "%").
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=_]{0,19}$")


class InvalidSymbolError(ValueError):
    """A symbol does not match :data:`SYMBOL_PATTERN`."""


def validate_symbol(symbol: object) -> str:
    """Return ``symbol`` unchanged if it is a safe ticker, else raise.

    Symbols are checked before they reach a URL or a file path.  Lower-case
    input is rejected rather than silently upper-cased so that a typo in a
    configuration is seen, not guessed at.

    Raises
    ------
    InvalidSymbolError
        Naming the offending value and the expected pattern.
    """
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.fullmatch(symbol) or ".." in symbol:
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: expected 1-20 characters of A-Z, 0-9 and . - ^ = _ "
            f"starting with a letter, digit or ^ (pattern {SYMBOL_PATTERN.pattern}); "
            "symbols are upper case, e.g. 'AAPL', 'BRK.B', '^GSPC'"
        )
    return symbol


def empty_prices() -> pl.DataFrame:
    """An empty frame with the price schema."""
    return pl.DataFrame(schema=PRICE_SCHEMA)


def conform_prices(frame: pl.DataFrame, *, where: str) -> pl.DataFrame:
    """Select and order the price columns, checking names and dtypes.

    Integer columns are widened to Float64 where the schema says float; any
    other dtype mismatch is an error naming ``where`` (a file, URL or asset),
    the column, the dtype found and the dtype expected.  Rows are not touched.
    """
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; expected columns {list(PRICE_COLUMNS)}, "
            f"got {frame.columns}"
        )
    casts = []
    for name, dtype in PRICE_SCHEMA.items():
        found = frame.schema[name]
        if found == dtype:
            casts.append(pl.col(name))
        elif dtype == pl.Float64() and (found.is_numeric() or found == pl.Null()):
            casts.append(pl.col(name).cast(pl.Float64))
        elif found == pl.Null():
            casts.append(pl.col(name).cast(dtype))
        else:
            raise TypeError(
                f"{where}: column {name!r} has dtype {found}, expected {dtype}"
            )
    return frame.select(casts)
