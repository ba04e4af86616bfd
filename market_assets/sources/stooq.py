"""Daily bars from Stooq's CSV download endpoint.

One request per symbol: ``GET {base_url}?s=<stooq ticker>&i=d&d1=YYYYMMDD&d2=YYYYMMDD``
answered with ``Date,Open,High,Low,Close,Volume`` (no adjusted close, so
``adj_close`` is a copy of ``close``).  The Stooq ticker of a symbol is
``symbol_map[symbol]`` when given, else ``symbol.lower() + suffix``
(``AAPL`` -> ``aapl.us``); indices need the map (e.g. ``{"^GSPC": "^spx"}``).
Every row carries ``source="stooq"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import polars as pl

from market_assets.schema import validate_symbol
from market_assets.sources.base import SourceError
from market_assets.sources.http import HttpClient, RetryPolicy, check_base_url, excerpt
from market_assets.sources.options import SourceOption, check_symbols, option_error
from market_assets.sources.tabular import concat_sorted, read_csv_text, to_prices


class StooqSource:
    """Stooq daily CSV over HTTP.

    Parameters (keyword-only)
    -------------------------
    symbols : list of str
        The universe (validated, upper case).
    base_url : str, default "https://stooq.com/q/d/l/"
    suffix : str, default ".us"
        Appended to the lower-cased symbol to form the Stooq ticker.
    symbol_map : mapping or None, default None
        Explicit symbol -> Stooq ticker overrides (e.g. ``{"^GSPC": "^spx"}``).
    retry : RetryPolicy, default :data:`DEFAULT_RETRY`
        Timeout, rate limit and retries of the requests (30 s, 1 s between
        requests, 3 retries from 1 s).
    sleep, clock
        Injectable for tests (default ``time.sleep``, ``time.monotonic``).
    """

    name = "stooq"
    DEFAULT_RETRY = RetryPolicy(min_interval=1.0)
    OPTIONS: ClassVar[Mapping[str, SourceOption]] = {
        "symbols": SourceOption(list[str], "the universe, e.g. ['AAPL', 'MSFT']"),
        "base_url": SourceOption(str, "the Stooq CSV endpoint", per_run=False),
    }

    def __init__(
        self,
        *,
        symbols: list[str],
        base_url: str = "https://stooq.com/q/d/l/",
        suffix: str = ".us",
        symbol_map: Mapping[str, str] | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._symbols = sorted({validate_symbol(s) for s in symbols})
        overrides = {validate_symbol(k): v for k, v in (symbol_map or {}).items()}
        self._tickers = {s: overrides.get(s, s.lower() + suffix) for s in self._symbols}
        for ticker in self._tickers.values():
            validate_symbol(ticker.upper())  # a ticker also goes into the URL
        self.base_url = check_base_url(base_url)
        self.client = HttpClient(provider=self.name, retry=retry, sleep=sleep, clock=clock)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Validate options without building (no I/O); SourceOptionError naming the option."""
        check_symbols(options.get("symbols", []))
        if "base_url" in options:
            with option_error("base_url"):
                check_base_url(options["base_url"])

    def __repr__(self) -> str:
        return f"StooqSource(symbols={self._symbols}, base_url={self.base_url!r})"

    def symbols(self) -> list[str]:
        """The configured symbols, sorted."""
        return list(self._symbols)

    def stooq_ticker(self, symbol: str) -> str:
        """The ticker Stooq knows ``symbol`` by (``AAPL`` -> ``aapl.us``)."""
        return self._tickers[symbol]

    def _parse(self, symbol: str, text: str) -> pl.DataFrame:
        where = f"stooq: {symbol} ({self._tickers[symbol]})"
        body = text.strip()
        if body.lower() == "no data":
            raise SourceError(
                f"stooq: no data for symbol {symbol!r} (Stooq ticker {self._tickers[symbol]!r}); "
                "check the symbol, the suffix option or symbol_map"
            )
        if body.lower().startswith("exceeded the daily hits limit"):
            raise SourceError(f"stooq: daily request limit exceeded while fetching {symbol!r}: {excerpt(body)}")
        try:
            return to_prices(read_csv_text(text, where=where), where=where, symbol=symbol, source=self.name)
        except SourceError as exc:
            raise SourceError(f"{exc}; payload starts {excerpt(text)}") from None

    def fetch(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One request per symbol; rows with ``start <= date <= end``."""
        frames = []
        for symbol in self._symbols:
            params = {"s": self._tickers[symbol], "i": "d", "d1": f"{start:%Y%m%d}", "d2": f"{end:%Y%m%d}"}
            frame = self.client.get(self.base_url, params, symbol=symbol, parse=lambda t, s=symbol: self._parse(s, t))
            frames.append(frame.filter(pl.col("date").is_between(start, end)))
        return concat_sorted(frames)
