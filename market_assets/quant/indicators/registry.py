"""The feature registry: one :class:`FeatureSpec` per feature name.

A spec says how a feature is computed (a NumPy kernel on a time-major chunk
of symbols, a NumPy function on the whole ``(symbols × sessions)`` matrix, a
per-date polars expression of the date, or a per-date cross-sectional
function of another feature), its warm-up, its documentation and, where
TA-Lib has the indicator, the TA-Lib call used by the parity tests.

Warm-up and memory
------------------
``warmup`` is the number of sessions a symbol needs *before* the first
non-null value (the value at within-symbol index ``warmup`` is the first one
computed; earlier rows are null, never guessed).  Recursive indicators (EMA,
Wilder smoothing) also carry ``memory``: the number of further sessions after
which the influence of the seed has decayed below ``1e-10`` relative,
``ceil(ln(1e-10) / ln(1 - alpha))``.  A trailing window of
``warmup + memory + 1`` sessions therefore reproduces the full-history value
of the last row to about ``1e-10`` relative; that is what
:func:`max_warmup` returns.  Cumulative or path-dependent indicators (OBV, A/D
level, Parabolic SAR) never forget their start and are flagged
``history_dependent``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from market_assets.quant.indicators.chunk import Chunk
from market_assets.quant.indicators.recursive import Recursion

DECAY_TOLERANCE = 1e-10


def decay_memory(alpha: float, tol: float = DECAY_TOLERANCE) -> int:
    """Sessions for a recursion with smoothing ``alpha`` to forget its seed below ``tol``."""
    return math.ceil(math.log(tol) / math.log(1.0 - alpha))


@dataclass(frozen=True)
class TalibCall:
    """How to compute a feature with TA-Lib (tests and benchmarks only).

    ``inputs`` name the adjusted arrays passed positionally (``open``,
    ``high``, ``low``, ``close``, ``volume``); ``output`` selects one output of
    a multi-output function; ``scale`` multiplies the TA-Lib value.
    """

    function: str
    inputs: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    output: int | None = None


@dataclass(frozen=True)
class Alias:
    """A feature that is an affine copy of another by construction: ``offset + scale * canonical``.

    It holds for every row where both are defined (float rounding aside) and
    both are null on the same rows; ``reason`` says why in words.
    """

    canonical: str
    scale: float = 1.0
    offset: float = 0.0
    reason: str = ""

    def relation(self, name: str) -> str:
        """``name = offset + scale * canonical`` written plainly, e.g. ``willr_14 = stoch_fastk_14 - 100``."""
        term = self.canonical if self.scale == 1 else (
            f"-{self.canonical}" if self.scale == -1 else f"{self.scale:g} * {self.canonical}")
        if not self.offset:
            return f"{name} = {term}"
        if term.startswith("-"):
            return f"{name} = {self.offset:g} - {term[1:]}"
        return f"{name} = {term} {'+' if self.offset > 0 else '-'} {abs(self.offset):g}"


@dataclass(frozen=True)
class FeatureSpec:
    """One documented feature.

    Attributes
    ----------
    name, group, description
        Stable lower-case name, the module group (``trend``, ``alpha158``, ...),
        and the convention in words.
    warmup
        Sessions of history before the first non-null value.
    memory
        Extra sessions for recursive smoothing to forget its seed (see module doc).
    expr
        Builder of a polars expression of ``date`` alone, evaluated once per
        output date (calendar features).
    matrix
        ``(inputs, fn)``: ``fn`` maps whole-panel ``(symbols × sessions)`` input
        matrices to one (path-dependent loops over sessions, e.g. SAR); kernels
        read the result under the feature's name.
    cross_section
        Per-date function of the first dependency: maps its ``(dates × symbols)``
        grid (NaN where null or absent) to a grid of the same shape.
    recursions
        NumPy recursions (EMA / Wilder) whose outputs ``kernel`` reads.
    talib
        The TA-Lib equivalent, if any.
    history_dependent
        True if the value depends on the whole history (never decays).  Every
        other feature at session ``t`` reads sessions ``t - warmup .. t`` only
        (plus recursion / whole-panel series), which the engine relies on.
    kernel
        Per-symbol NumPy kernel: maps a :class:`.chunk.Chunk` (time-major
        ``(sessions × symbols)`` block with memoised intermediates) to a
        matrix of the same shape.  Warm-up rows and ±inf are nulled by the engine.
    alias
        Set when the feature is an affine copy of another one by construction
        (see :mod:`.relations`): the library keeps it for TA-Lib / Alpha158
        parity, ``feature_table`` stores only the canonical feature.
    family
        Name of the signal this feature is a strictly monotone transform of
        within every session (so its per-session rank IC equals the family's up
        to sign); the family is named after its canonical member.  Assigned by
        :func:`.relations.with_relations` (its own name when it has no relative).
    """

    name: str
    group: str
    description: str
    warmup: int
    memory: int = 0
    expr: Callable[[], pl.Expr] | None = None
    matrix: tuple[tuple[str, ...], Callable[..., np.ndarray]] | None = None
    cross_section: Callable[[np.ndarray], np.ndarray] | None = None
    recursions: tuple[Recursion, ...] = ()
    depends: tuple[str, ...] = ()
    talib: TalibCall | None = None
    history_dependent: bool = False
    kernel: Callable[[Chunk], np.ndarray] | None = None
    alias: Alias | None = None
    family: str = ""

    @property
    def alias_of(self) -> str | None:
        """The canonical feature this one is an affine copy of, or None."""
        return self.alias.canonical if self.alias is not None else None

    @property
    def lookback(self) -> int:
        """Sessions before the last row needed to reproduce it (``warmup + memory``)."""
        return self.warmup + self.memory


def build_registry(groups: Iterable[Sequence[FeatureSpec]]) -> dict[str, FeatureSpec]:
    """Merge spec lists, refusing duplicate names or bad dependencies."""
    registry: dict[str, FeatureSpec] = {}
    for specs in groups:
        for spec in specs:
            if spec.name in registry:
                raise ValueError(f"duplicate feature name {spec.name!r} in groups "
                                 f"{registry[spec.name].group!r} and {spec.group!r}")
            if spec.name != spec.name.lower():
                raise ValueError(f"feature name {spec.name!r} must be lower case")
            registry[spec.name] = spec
    for spec in registry.values():
        for dep in spec.depends:
            if dep not in registry:
                raise ValueError(f"feature {spec.name!r} depends on unknown feature {dep!r}")
    return registry


def resolve(registry: dict[str, FeatureSpec], names: Sequence[str] | None) -> list[str]:
    """Validate requested names (all if None); unknown names raise with close matches."""
    if names is None:
        return list(registry)
    if isinstance(names, str):
        raise TypeError(f"features must be a sequence of names, got the string {names!r}; wrap it in a list")
    unknown = [n for n in names if n not in registry]
    if unknown:
        hints = {n: difflib.get_close_matches(n, list(registry), n=3) for n in unknown}
        raise ValueError(
            f"unknown feature name(s) {unknown}; close matches: {hints}; "
            "see market_assets.quant.features.feature_names() for the full list"
        )
    return list(dict.fromkeys(names))


def with_dependencies(registry: dict[str, FeatureSpec], names: Sequence[str]) -> list[str]:
    """``names`` plus every feature they depend on, dependencies first."""
    seen: dict[str, None] = {}

    def visit(name: str) -> None:
        for dep in registry[name].depends:
            visit(dep)
        seen.setdefault(name, None)

    for name in names:
        visit(name)
    return list(seen)
