"""Daily bars from the Alpha Vantage JSON API.

One request per symbol: ``GET {base_url}?function=TIME_SERIES_DAILY_ADJUSTED
&symbol=AAPL&outputsize=full&datatype=json&apikey=…``.  The API key is read
from the environment variable named by ``api_key_env`` (a deployment
setting, never a run's) when a request is made; it is never stored on the
source, and its value is registered with :func:`~market_assets.sources.http.register_secret`
the moment it is read, so it is redacted from every log line and error,
wherever a payload echoes it (see :mod:`market_assets.sources.http`).

Payloads recognised besides ``"Time Series (Daily)"``:

* ``"Note"`` / ``"Information"`` — throttling (or a premium-only notice):
  retried with backoff, then :class:`SourceError` quoting the message;
* ``"Error Message"`` — an unknown symbol or bad call: :class:`SourceError`
  naming the symbol, not retried.

Bars keep Alpha Vantage's field names minus the number prefix (``"1. open"``
-> ``open``, ``"5. adjusted close"`` -> ``adjusted close``).  With a function
that has no adjusted close (``TIME_SERIES_DAILY``) ``adj_close = close``.
Every row carries ``source="alpha_vantage"``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import polars as pl

from market_assets.schema import validate_symbol
from market_assets.sources.base import SourceError
from market_assets.sources.http import (
    HttpClient,
    RetryableResponse,
    RetryPolicy,
    check_base_url,
    excerpt,
    redact,
    register_secret,
)
from market_assets.sources.options import SourceOption, SourceOptionError, check_symbols, option_error
from market_assets.sources.tabular import concat_sorted, to_prices

SERIES_KEY = "Time Series (Daily)"
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def check_key_env(name: str) -> str:
    """``name`` if it reads as an environment variable name, else SourceOptionError."""
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        raise SourceOptionError(
            "api_key_env", f"api_key_env={name!r}: expected an environment variable name such as ALPHA_VANTAGE_API_KEY"
        )
    return name


def _read_key(api_key_env: str) -> str:
    """The key held by ``api_key_env``, registered for redaction before anything can print it."""
    key = os.environ.get(api_key_env, "").strip()
    if not key:
        raise ValueError(
            f"alpha_vantage: environment variable {api_key_env} is not set (or empty); export your "
            f"Alpha Vantage API key as {api_key_env} (the deployment names this variable)"
        )
    register_secret(key)
    return key


def parse_daily_payload(text: str, *, symbol: str) -> pl.DataFrame:
    """Alpha Vantage daily JSON -> price frame; see the module docstring for payload kinds."""
    where = f"alpha_vantage: {symbol}"
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{where}: malformed JSON ({exc.msg} at char {exc.pos}); payload starts {excerpt(text)}"
        ) from None
    if not isinstance(payload, dict):
        raise SourceError(f"{where}: expected a JSON object, got {type(payload).__name__}: {excerpt(text)}")
    if "Error Message" in payload:
        raise SourceError(
            f"{where}: Alpha Vantage rejected symbol {symbol!r}: {redact(str(payload['Error Message']))[:200]}"
        )
    for key in ("Note", "Information"):
        if key in payload:
            raise RetryableResponse(f"throttled ({key}: {redact(str(payload[key]))[:200]})")
    series = payload.get(SERIES_KEY)
    if not isinstance(series, dict):
        raise SourceError(f"{where}: no {SERIES_KEY!r} object; keys found {sorted(payload)}: {excerpt(text)}")
    try:
        rows = [{"date": day, **{k.split(". ", 1)[-1]: v for k, v in bar.items()}} for day, bar in series.items()]
    except AttributeError:
        raise SourceError(f"{where}: a bar of {SERIES_KEY!r} is not an object: {excerpt(text)}") from None
    if rows:
        table = pl.DataFrame(rows, infer_schema_length=None).cast(pl.String)
    else:
        table = pl.DataFrame(schema={c: pl.String for c in ("date", "open", "high", "low", "close", "volume")})
    return to_prices(table, where=where, symbol=symbol, source="alpha_vantage")


class AlphaVantageSource:
    """Alpha Vantage ``TIME_SERIES_DAILY_ADJUSTED`` over HTTP.

    Parameters (keyword-only)
    -------------------------
    symbols : list of str
        The universe (validated, upper case).
    base_url : str, default "https://www.alphavantage.co/query"
    function : str, default "TIME_SERIES_DAILY_ADJUSTED"
    outputsize : str, default "full"
        ``"full"`` (the whole history) or ``"compact"`` (the last 100 bars).
    api_key_env : str, default "ALPHA_VANTAGE_API_KEY"
        Name of the environment variable holding the key; checked at
        construction, read again at each fetch.
    retry : RetryPolicy, default :data:`DEFAULT_RETRY`
        Timeout, rate limit and retries of the requests (30 s, 12 s between
        requests — the free tier's 5 per minute —, 3 retries from 15 s).
    sleep, clock
        Injectable for tests (default ``time.sleep``, ``time.monotonic``).
    """

    name = "alpha_vantage"
    DEFAULT_RETRY = RetryPolicy(min_interval=12.0, backoff=15.0)
    OPTIONS: ClassVar[Mapping[str, SourceOption]] = {
        "symbols": SourceOption(list[str], "the universe, e.g. ['AAPL', 'MSFT']"),
        "base_url": SourceOption(str, "the Alpha Vantage query endpoint", per_run=False),
        "api_key_env": SourceOption(str, "environment variable holding the API key", per_run=False),
    }

    def __init__(
        self,
        *,
        symbols: list[str],
        base_url: str = "https://www.alphavantage.co/query",
        function: str = "TIME_SERIES_DAILY_ADJUSTED",
        outputsize: str = "full",
        api_key_env: str = "ALPHA_VANTAGE_API_KEY",
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._symbols = sorted({validate_symbol(s) for s in symbols})
        if outputsize not in ("full", "compact"):
            raise ValueError(f"alpha_vantage: outputsize must be 'full' or 'compact', got {outputsize!r}")
        _read_key(check_key_env(api_key_env))
        self.base_url = check_base_url(base_url)
        self.function, self.outputsize, self.api_key_env = function, outputsize, api_key_env
        self.client = HttpClient(provider=self.name, retry=retry, sleep=sleep, clock=clock)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Validate options without building (no I/O, no key read); SourceOptionError naming the option."""
        check_symbols(options.get("symbols", []))
        if "base_url" in options:
            with option_error("base_url"):
                check_base_url(options["base_url"])
        if "api_key_env" in options:
            check_key_env(options["api_key_env"])
        if options.get("outputsize", "full") not in ("full", "compact"):
            raise SourceOptionError("outputsize", f"outputsize={options['outputsize']!r}: expected 'full' or 'compact'")

    def __repr__(self) -> str:
        return (
            f"AlphaVantageSource(symbols={self._symbols}, base_url={self.base_url!r}, "
            f"function={self.function!r}, api_key_env={self.api_key_env!r})"
        )

    def symbols(self) -> list[str]:
        """The configured symbols, sorted."""
        return list(self._symbols)

    def fetch(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One request per symbol; rows with ``start <= date <= end``."""
        key = _read_key(self.api_key_env)
        frames = []
        for symbol in self._symbols:
            params = {
                "function": self.function,
                "symbol": symbol,
                "outputsize": self.outputsize,
                "datatype": "json",
                "apikey": key,
            }
            frame = self.client.get(
                self.base_url, params, symbol=symbol, parse=lambda t, s=symbol: parse_daily_payload(t, symbol=s)
            )
            frames.append(frame.filter(pl.col("date").is_between(start, end)))
        return concat_sorted(frames)
