"""Turn a provider's OHLCV table into :data:`~market_assets.schema.PRICE_SCHEMA`.

Shared by the files source (CSV / Parquet) and the HTTP providers (Stooq CSV,
Alpha Vantage JSON flattened to strings).

Accepted column names, matched case-insensitively after trimming spaces:

==============  ===========================================================
``date``        Date, Data (Stooq's Polish export), Timestamp
``open``        Open, Otwarcie
``high``        High, Najwyzszy
``low``         Low, Najnizszy
``close``       Close, Zamkniecie
``adj_close``   Adj Close, Adj_Close, AdjClose, Adjusted Close — optional:
                when absent (Stooq) ``adj_close`` is a copy of ``close``
``volume``      Volume, Wolumen
==============  ===========================================================

Values are parsed, never repaired: a date must read as ``YYYY-MM-DD`` (or the
caller's ``date_format``, or be a Parquet date/datetime); a number must read as a float, where an empty cell
or ``null`` (Yahoo's marker for a missing value) becomes a null.  Anything
else raises :class:`SourceError` naming the table, column, row and value.
"""

from __future__ import annotations

import io

import polars as pl

from market_assets.schema import conform_prices, empty_prices
from market_assets.sources.base import SourceError

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "data", "timestamp"),
    "open": ("open", "otwarcie"),
    "high": ("high", "najwyzszy"),
    "low": ("low", "najnizszy"),
    "close": ("close", "zamkniecie"),
    "adj_close": ("adj close", "adj_close", "adjclose", "adjusted close"),
    "volume": ("volume", "wolumen"),
}
OPTIONAL_COLUMNS = frozenset({"adj_close"})
NULL_MARKERS = ("", "null")


def read_csv_text(data: bytes | str, *, where: str) -> pl.DataFrame:
    """Read CSV with every column as a string; :class:`SourceError` if unreadable."""
    raw = data.encode() if isinstance(data, str) else data
    if not raw.strip():
        raise SourceError(f"{where}: empty CSV (no header, no rows)")
    try:
        return pl.read_csv(io.BytesIO(raw), infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        text = raw[:200].decode(errors="replace")
        raise SourceError(
            f"{where}: malformed CSV ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
            f"starts with {' '.join(text.split())[:120]!r}"
        ) from None


def _find_columns(frame: pl.DataFrame, where: str) -> dict[str, str]:
    by_key = {c.strip().lower(): c for c in frame.columns}
    found: dict[str, str] = {}
    for name, aliases in COLUMN_ALIASES.items():
        match = next((by_key[a] for a in aliases if a in by_key), None)
        if match is not None:
            found[name] = match
        elif name not in OPTIONAL_COLUMNS:
            raise SourceError(
                f"{where}: missing column {name!r} (accepted headers, any case: {list(aliases)}); "
                f"columns found: {frame.columns}"
            )
    return found


def _first_failure(original: pl.Series, parsed: pl.Series) -> int | None:
    bad = parsed.is_null() & original.is_not_null()
    if original.dtype == pl.String:
        bad = bad & ~original.str.strip_chars().str.to_lowercase().is_in(NULL_MARKERS)
    idx = bad.arg_true()
    return None if idx.is_empty() else int(idx[0])


def _parse_number(series: pl.Series, where: str, column: str) -> pl.Series:
    if series.dtype.is_numeric() or series.dtype == pl.Null:
        return series.cast(pl.Float64)
    if series.dtype != pl.String:
        raise SourceError(f"{where}: column {column!r} has dtype {series.dtype}, expected numbers")
    parsed = series.str.strip_chars().cast(pl.Float64, strict=False)
    row = _first_failure(series, parsed)
    if row is not None:
        raise SourceError(f"{where}: column {column!r}, row {row + 1}: cannot parse {series[row]!r} as a number")
    return parsed


def _parse_date(series: pl.Series, where: str, column: str, date_format: str) -> pl.Series:
    if series.dtype == pl.Date:
        parsed = series
    elif isinstance(series.dtype, pl.Datetime):
        parsed = series.dt.date()
    elif series.dtype == pl.String:
        parsed = series.str.strip_chars().str.strptime(pl.Date, date_format, strict=False)
        row = _first_failure(series, parsed)
        if row is not None:
            raise SourceError(
                f"{where}: column {column!r}, row {row + 1}: cannot parse {series[row]!r} "
                f"as a date (expected format {date_format!r})"
            )
    else:
        raise SourceError(f"{where}: column {column!r} has dtype {series.dtype}, expected dates")
    missing = parsed.is_null().arg_true()
    if not missing.is_empty():
        raise SourceError(f"{where}: column {column!r}, row {int(missing[0]) + 1}: the date is empty")
    return parsed


def to_prices(
    frame: pl.DataFrame, *, where: str, symbol: str, source: str, date_format: str = "%Y-%m-%d"
) -> pl.DataFrame:
    """Map, parse and conform one symbol's table; rows kept as received, sorted by date.

    Parameters
    ----------
    frame
        The provider's table (CSV read as strings, Parquet as typed).
    where
        Names the table in errors (a file path or a redacted URL).
    symbol, source
        Written to the ``symbol`` and ``source`` columns.
    """
    columns = _find_columns(frame, where)
    data = {"date": _parse_date(frame[columns["date"]], where, columns["date"], date_format)}
    for name in ("open", "high", "low", "close", "adj_close", "volume"):
        header = columns.get(name, columns["close"])  # no adjusted close: adj_close = close
        data[name] = _parse_number(frame[header], where, header)
    out = pl.DataFrame(data).with_columns(source=pl.lit(source), symbol=pl.lit(symbol, dtype=pl.String))
    return conform_prices(out, where=where).sort("date", maintain_order=True)


def concat_sorted(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate per-symbol price frames, sorted by date then symbol (stable)."""
    if not frames:
        return empty_prices()
    return pl.concat(frames).sort("date", "symbol", maintain_order=True)
