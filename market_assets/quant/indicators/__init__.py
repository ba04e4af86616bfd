"""Technical indicators and Alpha158 features on a polars price panel.

Pure computation (no Dagster, no I/O).  The public entry point is
:mod:`market_assets.quant.features`; groups live in small modules
(``trend``, ``momentum``, ``volatility``, ``volume``, ``returns``,
``alpha158``, ``calendar``, ``cross_section``) and are merged into
:data:`FEATURE_SPECS`.  :mod:`.relations` marks the names that are affine
copies of another feature (aliases, kept for library parity) and groups
monotone transforms of one signal into families.

Computation (:mod:`.engine`): the panel becomes time-major ``(sessions ×
symbols)`` matrices (:mod:`._frame`); per-symbol features are NumPy kernels
on chunks of symbols (:mod:`.chunk`) built from doubling window kernels
(:mod:`.window`, :mod:`.order_stats`) and seeded recursions
(:mod:`.recursive`); results go straight into float64 output columns
(:mod:`.output`, :mod:`.memory`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

import polars as pl

from market_assets.quant.indicators import (
    alpha158,
    calendar,
    cross_section,
    momentum,
    returns,
    trend,
    volatility,
    volume,
)
from market_assets.quant.indicators.engine import compute_panel
from market_assets.quant.indicators.registry import (
    Alias,
    FeatureSpec,
    TalibCall,
    build_registry,
    resolve,
    with_dependencies,
)
from market_assets.quant.indicators.relations import family_members, with_relations

FEATURE_SPECS: dict[str, FeatureSpec] = with_relations(build_registry(
    m.specs() for m in (returns, trend, momentum, volatility, volume, alpha158, calendar, cross_section)
))


def feature_names() -> list[str]:
    """All feature names, in registry order (stable), aliases included."""
    return list(FEATURE_SPECS)


def canonical_feature_names(*, history_dependent: bool = True) -> list[str]:
    """Feature names without aliases (and without history-dependent ones if ``history_dependent=False``)."""
    return [n for n, s in FEATURE_SPECS.items()
            if s.alias is None and (history_dependent or not s.history_dependent)]


def feature_families(names: Sequence[str] | None = None) -> dict[str, str]:
    """Feature -> family name (see :mod:`.relations`); names outside the registry are their own family."""
    names = list(FEATURE_SPECS) if names is None else names
    return {n: FEATURE_SPECS[n].family if n in FEATURE_SPECS else n for n in names}


def max_warmup(features: Sequence[str] | None = None) -> int:
    """Sessions of history before a session needed to compute it fully.

    For windowed features this is the exact warm-up; for recursive ones
    (EMA, Wilder) it adds the memory after which the seed's influence is
    below 1e-10 relative.  History-dependent features (OBV, A/D level, SAR)
    contribute only their warm-up: they never fully forget their start.
    """
    names = with_dependencies(FEATURE_SPECS, resolve(FEATURE_SPECS, features))
    return max((FEATURE_SPECS[n].lookback for n in names), default=0)


def compute_features(prices: pl.DataFrame, *, features: Sequence[str] | None = None,
                     output_dates: Collection[date] | None = None) -> pl.DataFrame:
    """Compute features for a whole price panel in one pass.

    Parameters
    ----------
    prices
        Long panel with at least ``date, symbol, open, high, low, close,
        adj_close, volume`` (see :mod:`market_assets.schema`), any row order,
        no nulls, positive ``close`` / ``adj_close``.
    features
        Names to compute (default: all of :func:`feature_names`).
    output_dates
        If given, only rows of these dates are returned.  Everything is still
        computed from the whole history in ``prices`` (values are identical to
        filtering the full result), but only those rows are stored, which
        saves most of the memory and assembly time when a long lookback is
        needed for one output session (e.g. a nightly run).  Dates absent from
        ``prices`` are ignored.

    Returns
    -------
    pl.DataFrame
        ``date, symbol`` and one Float64 column per feature, sorted by
        ``(date, symbol)``.  Warm-up rows and undefined values are null.

    Notes
    -----
    OHLC are back-adjusted to each symbol's last session in ``prices`` as
    traded, from the changes of ``adj_close / close``, and volume is divided
    by the split ratios after the session, so a split is not seen as a crash
    and the provider's adjustment basis never matters; price-level features
    are in the units of that last session (see
    :mod:`market_assets.quant.adjustments`).
    """
    return compute_panel(prices, FEATURE_SPECS, features, output_dates)


__all__ = [
    "FEATURE_SPECS", "Alias", "FeatureSpec", "TalibCall", "canonical_feature_names", "compute_features",
    "family_members", "feature_families", "feature_names", "max_warmup",
]
