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

Each class documents its keyword-only options and their defaults, and lists
in ``OPTIONS`` those that configuration may set (see
:mod:`~market_assets.sources.options`): this registry reads both, so an
option is defined once, in its class.  A deployment's choice of source, and
what a run may change of it, is a :class:`~.deployment.SourceDeployment`.
Modules are imported when their kind is first used.
"""

from __future__ import annotations

import enum
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from market_assets.sources.base import PriceSource, SourceError
from market_assets.sources.options import SourceOption, SourceOptionError

SOURCE_KINDS: dict[str, tuple[str, str]] = {
    "synthetic": ("market_assets.sources.synthetic", "SyntheticSource"),
    "bundled": ("market_assets.sources.bundled", "BundledSource"),
    "files": ("market_assets.sources.files", "FileSource"),
    "stooq": ("market_assets.sources.stooq", "StooqSource"),
    "alpha_vantage": ("market_assets.sources.alpha_vantage", "AlphaVantageSource"),
}
DEFAULT_KIND = "synthetic"

#: The kinds as an enumeration (configuration layers offer exactly these values).
SourceKind = enum.Enum("SourceKind", [(kind, kind) for kind in SOURCE_KINDS], type=str, module=__name__)


def source_class(kind: str) -> type:
    """The class behind ``kind``; ValueError naming the valid kinds."""
    if kind not in SOURCE_KINDS:
        raise SourceOptionError("kind", f"unknown price source kind {kind!r}; valid kinds: {sorted(SOURCE_KINDS)}")
    module, name = SOURCE_KINDS[kind]
    return getattr(importlib.import_module(module), name)


def source_options(kind: str) -> dict[str, Any]:
    """Option name -> default (``inspect.Parameter.empty`` when required) for ``kind``."""
    parameters = inspect.signature(source_class(kind)).parameters
    return {name: p.default for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def declared_options(kind: str) -> Mapping[str, SourceOption]:
    """The options of ``kind`` that configuration may set (its class's ``OPTIONS``)."""
    return source_class(kind).OPTIONS


def configurable_options(*, per_run: bool) -> dict[str, tuple[SourceOption, tuple[str, ...]]]:
    """Option name -> (declaration, kinds declaring it), over every kind, for one scope.

    Raises ValueError if two kinds declare one name with different types or scopes.
    """
    found: dict[str, tuple[SourceOption, tuple[str, ...]]] = {}
    for kind in SOURCE_KINDS:
        for name, option in declared_options(kind).items():
            if option.per_run != per_run:
                continue
            if name in found:
                first, kinds = found[name]
                if first.type != option.type:
                    raise ValueError(f"option {name!r} is a {first.type} for {kinds} but a {option.type} for {kind}")
                found[name] = (first, (*kinds, kind))
            else:
                found[name] = (option, (kind,))
    return found


def _check_names(kind: str, options: Mapping[str, Any], *, complete: bool) -> None:
    valid = source_options(kind)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise SourceOptionError(
            unknown[0],
            f"unknown option(s) {unknown} for price source {kind!r}; valid options: {sorted(valid)}",
            reason="unknown",
        )
    required = sorted(n for n, d in valid.items() if d is inspect.Parameter.empty and n not in options)
    if complete and required:
        raise SourceOptionError(
            required[0],
            f"price source {kind!r} needs option(s) {required}; valid options: {sorted(valid)}",
            reason="required",
        )


def check_options(kind: str, options: Mapping[str, Any], *, complete: bool = True) -> dict[str, Any]:
    """``options`` if they are valid for ``kind``, without building the source (no I/O).

    Checks the names (unknown ones; with ``complete``, missing required ones),
    then the values with the class's own ``check_options`` when it has one.

    Raises
    ------
    SourceOptionError
        Naming the option, its value or the valid names.
    """
    _check_names(kind, options, complete=complete)
    check = getattr(source_class(kind), "check_options", None)
    if check is not None:
        check(options)
    return dict(options)


def build_source(kind: str = DEFAULT_KIND, **options: Any) -> PriceSource:
    """Build the price source ``kind`` with keyword ``options``.

    Raises
    ------
    ValueError
        For an unknown kind or option (naming it and listing the valid ones),
        a missing required option, or an invalid option value.
    """
    _check_names(kind, options, complete=True)
    return source_class(kind)(**options)


__all__ = [
    "DEFAULT_KIND",
    "SOURCE_KINDS",
    "PriceSource",
    "SourceError",
    "SourceKind",
    "SourceOption",
    "SourceOptionError",
    "build_source",
    "check_options",
    "configurable_options",
    "declared_options",
    "source_options",
]
