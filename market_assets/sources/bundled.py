"""Real daily history shipped inside permissively licensed PyPI packages (offline).

* ``^GSPC``, ``^IXIC``: ``arch.data.sp500`` / ``arch.data.nasdaq`` (NCSA
  licence), 1999-01-04 … 2018-12-31, Yahoo columns with ``Adj Close``.  The
  CSV files behind ``arch.data.*.load()`` are read directly: importing
  ``arch`` takes seconds, and ``load()`` coerces unparseable values to NaN
  where our parser names them instead.  ``^IXIC`` has two rows with volume 0.
* ``AAPL``, ``FB``, ``GOOG``, ``IBM``, ``MSFT``: ``bokeh_sampledata.stocks``
  (public-domain data; AAPL, IBM and MSFT from 2000-03-01, GOOG from its
  2004 IPO, FB from its 2012 IPO, all to 2013).  ``close`` is as traded
  (unadjusted: AAPL's 2:1 splits of 2000-06-21 and 2005-02-28 show as
  halvings), ``adj_close`` is adjusted for splits and dividends.  Also real:
  MSFT's 2:1 split on 2003-02-18, and AAPL's 52 % fall on 2000-09-29 (a
  profit warning, in ``close`` and ``adj_close`` alike).

Rows are returned as the packages ship them (no cleaning); every row carries
``source="bundled"``.  The data are read once per process and cached.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from market_assets.schema import validate_symbol
from market_assets.sources.base import SourceError
from market_assets.sources.options import SourceOption, option_error
from market_assets.sources.tabular import concat_sorted, read_csv_text, to_prices

ARCH_DATASETS: dict[str, str] = {"^GSPC": "sp500", "^IXIC": "nasdaq"}
BOKEH_SYMBOLS: tuple[str, ...] = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
BUNDLED_SYMBOLS: tuple[str, ...] = tuple(sorted((*ARCH_DATASETS, *BOKEH_SYMBOLS)))


def _arch_data_file(dataset: str) -> Path:
    """The CSV that ``arch.data.<dataset>.load()`` reads, found without importing
    ``arch`` (its import costs ~2.5 s: it pulls in scipy and statsmodels)."""
    spec = importlib.util.find_spec("arch")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("bundled: the 'arch' package is not installed (pip install arch)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / dataset / f"{dataset}.csv.gz"
    if not path.is_file():
        raise SourceError(f"bundled: {path} is missing; the installed 'arch' no longer ships it where expected")
    return path


@functools.cache
def _load(symbol: str) -> pl.DataFrame:
    where = f"bundled: {symbol}"
    if symbol in ARCH_DATASETS:
        table = read_csv_text(gzip.decompress(_arch_data_file(ARCH_DATASETS[symbol]).read_bytes()), where=where)
        date_format = "%m/%d/%Y"  # arch ships US dates, e.g. 1/4/1999
    else:
        from bokeh_sampledata import stocks

        table = pl.DataFrame(dict(getattr(stocks, symbol)))
        date_format = "%Y-%m-%d"
    return to_prices(table, where=where, symbol=symbol, source="bundled", date_format=date_format)


def _chosen(symbols: list[str] | None) -> list[str]:
    """The universe: ``symbols`` (validated, sorted, all bundled) or every bundled symbol."""
    if isinstance(symbols, str):
        raise ValueError(f"symbols={symbols!r}: expected a list of symbols, e.g. ['AAPL', 'MSFT']")
    chosen = BUNDLED_SYMBOLS if symbols is None else sorted({validate_symbol(s) for s in symbols})
    unknown = [s for s in chosen if s not in BUNDLED_SYMBOLS]
    if unknown:
        raise ValueError(f"bundled source: no bundled history for {unknown}; available: {list(BUNDLED_SYMBOLS)}")
    return list(chosen)


class BundledSource:
    """Index and stock history bundled with ``arch`` and ``bokeh_sampledata``.

    Parameters (keyword-only)
    -------------------------
    symbols : list of str or None, default None
        A subset of ``^GSPC``, ``^IXIC``, ``AAPL``, ``FB``, ``GOOG``, ``IBM``,
        ``MSFT``; None means all seven.
    """

    name = "bundled"
    OPTIONS: ClassVar[Mapping[str, SourceOption]] = {
        "symbols": SourceOption(list[str], f"a subset of {list(BUNDLED_SYMBOLS)} (all by default)"),
    }

    def __init__(self, *, symbols: list[str] | None = None) -> None:
        self._symbols = _chosen(symbols)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Validate options without reading any data; SourceOptionError naming the option."""
        with option_error("symbols"):
            _chosen(options.get("symbols"))

    def __repr__(self) -> str:
        return f"BundledSource(symbols={self._symbols})"

    def symbols(self) -> list[str]:
        """The configured symbols, sorted."""
        return list(self._symbols)

    def fetch(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Bundled rows with ``start <= date <= end``; empty outside the bundled years."""
        frames = [_load(s).filter(pl.col("date").is_between(start, end)) for s in self._symbols]
        return concat_sorted(frames)
