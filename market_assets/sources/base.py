"""The one small interface every price provider implements."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import polars as pl


class SourceError(RuntimeError):
    """A provider could not deliver prices (no data for a symbol, bad payload,
    exhausted retries).  The message names the provider, the symbol and what
    was received."""


@runtime_checkable
class PriceSource(Protocol):
    """A provider of daily OHLCV bars for a fixed universe of symbols.

    Implementations are configured in their constructor (keyword arguments,
    documented there) and hold no Dagster objects.
    """

    #: the value written to the ``source`` column of every row
    name: str

    def symbols(self) -> list[str]:
        """The universe this source serves, sorted, each passing
        :func:`market_assets.schema.validate_symbol`."""
        ...

    def fetch(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """All bars with ``start <= date <= end`` (inclusive) for the universe.

        Returns a frame with exactly :data:`market_assets.schema.PRICE_SCHEMA`,
        rows as received from the provider: no cleaning, dropping or filling
        (defects are the validation layer's job), sorted by date then symbol
        unless the provider's own order is the thing being tested.
        Raises :class:`SourceError` with a clear message on provider failure.
        """
        ...
