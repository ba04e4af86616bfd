"""A deterministic synthetic market: the embedded default price source.

Every row carries ``source="synthetic"``.  The model (fat tails, GARCH
volatility clustering, a market factor, splits, an optional planted signal,
an optional regime shift) is described in
:mod:`market_assets.sources.simulation`; the optional defects in
:mod:`market_assets.sources.synthetic_defects`.

The whole configured window is simulated once per process (cached by
configuration) and :meth:`SyntheticSource.fetch` returns a slice of it, so a
one-session fetch equals that session inside a ten-year fetch.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from market_assets.schema import conform_prices
from market_assets.sources.base import SourceError
from market_assets.sources.options import SourceOption, SourceOptionError, option_error
from market_assets.sources.simulation import PREDICTOR_WINDOW, signal_loading, simulate_market
from market_assets.sources.synthetic_defects import (
    DEFECTS_SCHEMA,
    apply_row_defects,
    apply_value_defects,
    defects_frame,
    draw_defects,
    validate_defect_rate,
)

DEFAULT_DEFECT_RATE = 0.001


#: The largest universe: 6,000 symbols is a real user's size (an all-US-listings
#: nightly; benchmarks/bench_nightly.py runs it).  The whole configured window is
#: simulated in memory at the first fetch: about 20 float64 (sessions x symbols)
#: arrays at the peak, ~2.5 GiB for 2,600 sessions x 6,000 symbols, so narrow
#: ``start``/``end`` for a large universe.
MAX_SYMBOLS = 10_000


def _as_date(value: dt.date | str, option: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SourceOptionError(option, f"{option}={value!r}: expected an ISO date such as '2015-01-02'") from None


def _as_count(n_symbols: object) -> int:
    """``n_symbols`` as an int in [1, MAX_SYMBOLS] (any integer type but bool), else SourceOptionError."""
    try:
        count = None if isinstance(n_symbols, bool) else operator.index(n_symbols)  # type: ignore[arg-type]
    except TypeError:
        count = None
    if count is None or not 1 <= count <= MAX_SYMBOLS:
        raise SourceOptionError("n_symbols", f"n_symbols={n_symbols!r}: expected an integer in [1, {MAX_SYMBOLS}]")
    return count


def synthetic_symbols(n_symbols: int) -> list[str]:
    """``SYN000`` … ``SYN{n-1:03d}``, sorted (zero-padded to four digits past 1,000 symbols)."""
    width = max(3, len(str(n_symbols - 1)))
    return [f"SYN{i:0{width}d}" for i in range(n_symbols)]


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines a simulation (the cache key)."""

    seed: int
    n_symbols: int
    start: dt.date
    end: dt.date
    calendar: str
    regime_shift_date: dt.date | None
    regime_vol_multiplier: float
    signal_strength: float
    defect_rate: float
    splits_per_year: float


@dataclass(frozen=True)
class _Simulation:
    prices: pl.DataFrame
    defects: pl.DataFrame


def planted_predictor(prices: pl.DataFrame) -> pl.DataFrame:
    """The observable predictor that ``signal_strength`` plants a signal on.

    For each symbol (rows sorted by date), ``lr5 = ln(adj_close_t /
    adj_close_{t-5 rows})`` is the log return over the last five sessions;
    the predictor is its cross-sectional z-score on each date,
    ``(lr5 - mean) / std`` over the symbols of that date with ``ddof=0``.
    It is null for a symbol's first five rows (and on a date where all
    ``lr5`` are equal).  Uses only prices up to ``t``: point in time.

    With ``signal_strength=s`` the Spearman correlation between this
    predictor at ``t`` and the ``adj_close`` log return from ``t`` to the
    next session is about ``s`` on each date (on a complete, defect-free
    panel of the simulated symbols).

    Parameters
    ----------
    prices
        A frame with at least ``date``, ``symbol`` and ``adj_close``.

    Returns
    -------
    pl.DataFrame
        ``date``, ``symbol``, ``predictor`` (Float64), sorted by date, symbol.
    """
    lr5 = (
        prices.select("date", "symbol", "adj_close")
        .sort("symbol", "date")
        .with_columns(
            lr5=(pl.col("adj_close").log() - pl.col("adj_close").log().shift(PREDICTOR_WINDOW)).over("symbol")
        )
    )
    std = pl.col("lr5").std(ddof=0).over("date")
    return (
        lr5.with_columns(predictor=pl.when(std > 0).then((pl.col("lr5") - pl.col("lr5").mean().over("date")) / std))
        .select("date", "symbol", pl.col("predictor").cast(pl.Float64))
        .sort("date", "symbol")
    )


@functools.lru_cache(maxsize=4)
def _sessions(calendar: str, start: dt.date, end: dt.date) -> list[dt.date]:
    import exchange_calendars as xc  # heavy-ish; imported only when simulating

    cal = xc.get_calendar(calendar, start=start.isoformat(), end=end.isoformat())
    return [ts.date() for ts in cal.sessions]


@functools.lru_cache(maxsize=8)
def _simulate(config: SyntheticConfig) -> _Simulation:
    dates = _sessions(config.calendar, config.start, config.end)
    symbols = synthetic_symbols(config.n_symbols)
    T, N = len(dates), config.n_symbols
    shift_index = None
    if config.regime_shift_date is not None:
        shift_index = int(np.searchsorted(np.array(dates), config.regime_shift_date))
    market = simulate_market(
        config.seed,
        T,
        N,
        signal_strength=config.signal_strength,
        shift_index=shift_index,
        regime_vol_multiplier=config.regime_vol_multiplier,
        splits_per_year=config.splits_per_year,
    )
    events = draw_defects(config.seed, T, N, config.defect_rate)
    market = apply_value_defects(market, events, config.seed)
    frame = pl.DataFrame(
        {
            "date": pl.Series(dates, dtype=pl.Date).gather(np.repeat(np.arange(T), N)),
            "symbol": pl.Series(symbols * T, dtype=pl.String),
            **{k: getattr(market, k).ravel() for k in ("open", "high", "low", "close", "adj_close", "volume")},
            "source": pl.repeat("synthetic", T * N, eager=True),
        }
    )
    frame = apply_row_defects(frame, events, N)
    return _Simulation(
        prices=conform_prices(frame, where="synthetic source"),
        defects=defects_frame(events, dates, symbols),
    )


class SyntheticSource:
    """A seeded, deterministic simulated market (see module docstring).

    Parameters (keyword-only)
    -------------------------
    seed : int, default 7
        Seeds everything; the same configuration gives identical frames.
    n_symbols : int, default 50
        Universe ``SYN000`` … ``SYN{n-1:03d}`` (four digits past 1,000 symbols).
    start, end : date or ISO str, default "2015-01-02" and "2030-12-31" (a live demo runs on until then)
        The simulated window; :meth:`fetch` must ask within it.
    calendar : str, default "XNYS"
        exchange_calendars name giving the sessions.
    regime_shift_date : date or ISO str or None, default None
        From this session on: volatility × ``regime_vol_multiplier``, betas
        redrawn, market drift from +8 %/yr to −15 %/yr (to demonstrate drift).
    regime_vol_multiplier : float, default 2.0
    signal_strength : float, default 0.0
        Target rank IC of :func:`planted_predictor` against the next
        session's return; 0 is an unpredictable market.
    defects : bool or float, default False
        ``True`` plants defects at rate 0.001 per row (a handful in 250
        sessions × 50 symbols); a float is the rate itself.
    splits_per_year : float, default 0.1
        Expected splits per symbol per year (about one per ten years).
    """

    name = "synthetic"
    OPTIONS: ClassVar[Mapping[str, SourceOption]] = {
        "seed": SourceOption(int, "random seed (same seed, same market)"),
        "n_symbols": SourceOption(int, f"universe size, SYN000 … (1 to {MAX_SYMBOLS})"),
        "start": SourceOption(str, "first simulated day (ISO date)"),
        "end": SourceOption(str, "last simulated day (ISO date)"),
        "calendar": SourceOption(str, "exchange calendar of the sessions (exchange_calendars code)"),
        "regime_shift_date": SourceOption(str, "date after which volatility and betas change (ISO date)"),
        "signal_strength": SourceOption(float, "rank IC of the planted predictable component (0 = none)"),
        "defects": SourceOption(
            float,
            "share of rows given a defect (bad tick, high < low, duplicate, missing row, 90% drop without "
            "a split); 0 is a clean market",
        ),
    }

    def __init__(
        self,
        *,
        seed: int = 7,
        n_symbols: int = 50,
        start: dt.date | str = "2015-01-02",
        end: dt.date | str = "2030-12-31",
        calendar: str = "XNYS",
        regime_shift_date: dt.date | str | None = None,
        regime_vol_multiplier: float = 2.0,
        signal_strength: float = 0.0,
        defects: bool | float = False,
        splits_per_year: float = 0.1,
    ) -> None:
        count = _as_count(n_symbols)
        start_d, end_d = _as_date(start, "start"), _as_date(end, "end")
        if end_d <= start_d:
            raise SourceOptionError("end", f"end={end_d}: expected a date after start={start_d}")
        shift = None if regime_shift_date is None else _as_date(regime_shift_date, "regime_shift_date")
        if shift is not None and not start_d < shift <= end_d:
            raise SourceOptionError(
                "regime_shift_date", f"regime_shift_date={shift}: expected a date in ({start_d}, {end_d}]"
            )
        rate = (DEFAULT_DEFECT_RATE if defects else 0.0) if isinstance(defects, bool) else float(defects)
        self.config = SyntheticConfig(
            seed=int(seed),
            n_symbols=count,
            start=start_d,
            end=end_d,
            calendar=calendar,
            regime_shift_date=shift,
            regime_vol_multiplier=float(regime_vol_multiplier),
            signal_strength=float(signal_strength),
            defect_rate=rate,
            splits_per_year=float(splits_per_year),
        )
        with option_error("defects"):
            validate_defect_rate(rate)  # fail at configuration, not at the first fetch
        with option_error("signal_strength"):
            signal_loading(self.config.signal_strength)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Validate options without simulating (construction is cheap: the market is simulated
        at the first fetch); SourceOptionError naming the option."""
        cls(**options)

    def __repr__(self) -> str:
        return f"SyntheticSource({self.config})"

    def symbols(self) -> list[str]:
        """``SYN000`` … in order."""
        return synthetic_symbols(self.config.n_symbols)

    def fetch(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Sessions ``start <= date <= end`` of the cached full simulation.

        Raises :class:`SourceError` if the range leaves the simulated window.
        """
        start, end = _as_date(start, "start"), _as_date(end, "end")
        c = self.config
        if start < c.start or end > c.end:
            raise SourceError(
                f"synthetic: requested {start}..{end} lies outside the simulated window "
                f"{c.start}..{c.end}; widen the source's start/end options"
            )
        prices = _simulate(c).prices
        return prices.filter(pl.col("date").is_between(start, end))

    def injected_defects(self, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
        """The planted defects (date, symbol, kind), optionally within a range.

        Empty when ``defects`` is off.  Kinds are documented in
        :mod:`market_assets.sources.synthetic_defects`.
        """
        defects = _simulate(self.config).defects
        lo = self.config.start if start is None else _as_date(start, "start")
        hi = self.config.end if end is None else _as_date(end, "end")
        return defects.filter(pl.col("date").is_between(lo, hi))


__all__ = ["DEFECTS_SCHEMA", "SyntheticSource", "planted_predictor"]
