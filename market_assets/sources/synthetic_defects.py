"""Deterministic data defects planted in a synthetic price frame.

Each event hits one (date, symbol) row, drawn without replacement over the
whole simulated window with a generator seeded by ``(seed, 1)``, so the
defects of a slice are the defects of the full simulation in that slice.

Kinds (the ``kind`` column of :meth:`SyntheticSource.injected_defects`):

``bad_tick``
    ``close`` and ``adj_close`` of one row multiplied by 10 or by 0.1 (a
    one-row spike; open/high/low untouched, so OHLC is usually broken too).
``high_below_low``
    ``high`` and ``low`` of one row swapped, so ``high < low``.
``duplicate_row``
    the row appears twice, identical.
``missing_row``
    the row is absent (the symbol has no bar that session).
``drop_without_split``
    every price of the symbol from that session on is multiplied by 0.1
    (``close`` and ``adj_close`` alike): a 90 % one-day fall that no split
    explains.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from market_assets.sources.simulation import SimulatedMarket

DEFECT_KINDS: tuple[str, ...] = (
    "bad_tick",
    "high_below_low",
    "duplicate_row",
    "missing_row",
    "drop_without_split",
)
DEFECTS_SCHEMA: dict[str, pl.DataType] = {"date": pl.Date(), "symbol": pl.String(), "kind": pl.String()}


def validate_defect_rate(rate: float) -> float:
    """``rate`` if it is a usable per-row defect probability, else ValueError."""
    if not 0.0 <= rate <= 0.05:
        raise ValueError(f"defects={rate!r}: expected a per-row defect rate in [0, 0.05]")
    return rate


def draw_defects(seed: int, n_sessions: int, n_symbols: int, rate: float) -> list[tuple[int, int, str]]:
    """Draw ``(session index, symbol index, kind)`` events, sorted.

    The number of events is Binomial(rows, ``rate``); kinds are uniform.
    Session 0 is never hit (a drop or a spike needs a previous close), and an
    event the session after another one of the same symbol is dropped, so
    each defect shows against a clean previous row.
    """
    validate_defect_rate(rate)
    rng = np.random.default_rng([seed, 1])
    rows = (n_sessions - 1) * n_symbols
    if rows <= 0 or rate == 0.0:
        return []
    count = int(rng.binomial(rows, rate))
    cells = np.sort(rng.choice(rows, size=count, replace=False))
    kinds = rng.integers(0, len(DEFECT_KINDS), size=count)
    events, hit = [], set()
    for c, k in zip(cells, kinds, strict=True):
        t, i = 1 + int(c) // n_symbols, int(c) % n_symbols
        if (t - 1, i) not in hit:  # keep each defect readable on its own
            events.append((t, i, DEFECT_KINDS[k]))
            hit.add((t, i))
    return events


def apply_value_defects(market: SimulatedMarket, events: list[tuple[int, int, str]], seed: int) -> SimulatedMarket:
    """Return a copy of ``market`` with the value defects applied.

    Row defects (duplicates, missing rows) are applied to the frame by
    :func:`apply_row_defects`.
    """
    arrays = {k: getattr(market, k).copy() for k in ("open", "high", "low", "close", "adj_close")}
    factors = np.random.default_rng([seed, 2]).choice([10.0, 0.1], size=len(events))
    for (t, i, kind), factor in zip(events, factors, strict=True):
        if kind == "bad_tick":
            arrays["close"][t, i] *= factor
            arrays["adj_close"][t, i] *= factor
        elif kind == "high_below_low":
            arrays["high"][t, i], arrays["low"][t, i] = arrays["low"][t, i], arrays["high"][t, i]
        elif kind == "drop_without_split":
            for values in arrays.values():
                values[t:, i] *= 0.1
    return SimulatedMarket(**arrays, volume=market.volume, split_ratio=market.split_ratio)


def apply_row_defects(frame: pl.DataFrame, events: list[tuple[int, int, str]], n_symbols: int) -> pl.DataFrame:
    """Drop ``missing_row`` rows and repeat ``duplicate_row`` rows.

    ``frame`` is the date-major long frame (row ``t * n_symbols + i``).
    """
    repeat = np.ones(frame.height, dtype=np.int64)
    for t, i, kind in events:
        if kind == "missing_row":
            repeat[t * n_symbols + i] = 0
        elif kind == "duplicate_row":
            repeat[t * n_symbols + i] = 2
    if (repeat == 1).all():
        return frame
    return frame[np.repeat(np.arange(frame.height), repeat)]


def defects_frame(events: list[tuple[int, int, str]], dates: list[dt.date], symbols: list[str]) -> pl.DataFrame:
    """The events as a (date, symbol, kind) frame, sorted by date, symbol."""
    return pl.DataFrame(
        {
            "date": [dates[t] for t, _, _ in events],
            "symbol": [symbols[i] for _, i, _ in events],
            "kind": [kind for _, _, kind in events],
        },
        schema=DEFECTS_SCHEMA,
    )
