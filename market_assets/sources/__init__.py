"""Price providers behind one interface, chosen by configuration.

``build_source(kind, **options)`` returns a configured
:class:`~market_assets.sources.base.PriceSource`:

=================  =============================================  ==================================
kind               class                                          what
=================  =============================================  ==================================
``synthetic``      :class:`~.synthetic.SyntheticSource`           seeded simulated market (default)
``bundled``        :class:`~.bundled.BundledSource`               real history shipped in packages
``files``          :class:`~.files.FileSource`                    per-symbol CSV / Parquet files
``stooq``          :class:`~.stooq.StooqSource`                   Stooq CSV over HTTP
``alpha_vantage``  :class:`~.alpha_vantage.AlphaVantageSource`    Alpha Vantage JSON over HTTP
=================  =============================================  ==================================

Each class documents its keyword-only options and their defaults.  Modules
are imported when their kind is built, so importing this package is cheap.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from market_assets.sources.base import PriceSource, SourceError

SOURCE_KINDS: dict[str, tuple[str, str]] = {
    "synthetic": ("market_assets.sources.synthetic", "SyntheticSource"),
    "bundled": ("market_assets.sources.bundled", "BundledSource"),
    "files": ("market_assets.sources.files", "FileSource"),
    "stooq": ("market_assets.sources.stooq", "StooqSource"),
    "alpha_vantage": ("market_assets.sources.alpha_vantage", "AlphaVantageSource"),
}
DEFAULT_KIND = "synthetic"


def source_class(kind: str) -> type:
    """The class behind ``kind``; ValueError naming the valid kinds."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown price source kind {kind!r}; valid kinds: {sorted(SOURCE_KINDS)}")
    module, name = SOURCE_KINDS[kind]
    return getattr(importlib.import_module(module), name)


def source_options(kind: str) -> dict[str, Any]:
    """Option name -> default (``inspect.Parameter.empty`` when required) for ``kind``."""
    parameters = inspect.signature(source_class(kind)).parameters
    return {name: p.default for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build_source(kind: str = DEFAULT_KIND, **options: Any) -> PriceSource:
    """Build the price source ``kind`` with keyword ``options``.

    Raises
    ------
    ValueError
        For an unknown kind or option (naming it and listing the valid ones),
        a missing required option, or an invalid option value.
    """
    valid = source_options(kind)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for price source {kind!r}; valid options: {sorted(valid)}")
    required = sorted(n for n, d in valid.items() if d is inspect.Parameter.empty and n not in options)
    if required:
        raise ValueError(f"price source {kind!r} needs option(s) {required}; valid options: {sorted(valid)}")
    return source_class(kind)(**options)


__all__ = ["DEFAULT_KIND", "SOURCE_KINDS", "PriceSource", "SourceError", "build_source", "source_options"]
