"""Features that repeat another one: aliases (affine copies) and families (monotone transforms).

The library keeps every TA-Lib / Alpha158 name so that parity with those
libraries can be tested, but several of them are, by construction, another
feature of the registry in disguise.  Two relations are declared here, once:

Aliases
    ``alias = offset + scale * canonical`` on every row (float rounding
    aside), with the same null rows.  An alias carries no information its
    canonical feature lacks, and in a table they make an exactly collinear
    pair: ``feature_table`` stores the canonical feature only.  Each entry
    says why the identity holds in the code (see the kernels named).

Families
    Features that are strictly monotone transforms of one signal *within
    every session* (``ret_5``, ``ret_log_5 = log(1 + ret_5)``, Qlib
    ``roc_5 = 1 / (1 + ret_5)``, the per-date ranks and z-scores of
    ``ret_5``): their per-session rank IC is the same up to sign, so an IC
    ranking lists the family once.  They are *not* dropped from the table
    (their Pearson correlations differ and trees split them differently).
    A family is named after its canonical member.  Besides the explicit
    :data:`MONOTONE` entries, two rules apply: an alias belongs to its
    canonical feature's family, and a cross-sectional rank or z-score
    (:mod:`.cross_section`, strictly increasing per date) to its input's.

Found systematically on a 30-symbol synthetic market with prices rounded
to cents (ties occur, as on an exchange): every pair of features with
pooled ``|corr| > 0.999999`` is an alias below, and every pair whose
per-session Spearman correlation is ``±1`` on every session is in one
family (``market_assets_tests/quant/indicators/test_relations.py`` keeps it
so).  Not aliases although they look like one on tie-free data: Qlib
``cntp_d`` / ``cntn_d`` / ``cntd_d`` (``cntp + cntn = 1`` only when no
close is unchanged; ``cntd = cntp - cntn`` is exact but involves two
features, so all three stay).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from market_assets.quant.indicators.registry import Alias, FeatureSpec

QLIB_WINDOWS = (5, 10, 20, 30, 60)

_FLOWS = (
    "gains and losses split each |change| (max(x, 0) + max(-x, 0) = |x|), so over the window "
    "Sum(gains) + Sum(losses) = Sum(|change|); both are null when that sum is 0"
)

#: alias name -> how it follows from its canonical feature.
ALIASES: dict[str, Alias] = {
    "roc_pct_10": Alias("ret_10", 100.0, 0.0, "TA-Lib ROC is 100 (close / close 10 ago - 1)"),
    "roc_pct_20": Alias("ret_20", 100.0, 0.0, "TA-Lib ROC is 100 (close / close 20 ago - 1)"),
    "kmid": Alias("ret_intraday", 1.0, 0.0, "Qlib KMID (close - open) / open is close / open - 1"),
    "willr_14": Alias(
        "stoch_fastk_14", 1.0, -100.0,
        "-100 (hh - c) / (hh - ll) = 100 (c - ll) / (hh - ll) - 100 over the same 14-session high/low; "
        "both null on a flat window",
    ),
    **{f"sumn_{d}": Alias(f"sump_{d}", -1.0, 1.0, _FLOWS) for d in QLIB_WINDOWS},
    **{f"sumd_{d}": Alias(f"sump_{d}", 2.0, -1.0, _FLOWS) for d in QLIB_WINDOWS},
    **{f"vsumn_{d}": Alias(f"vsump_{d}", -1.0, 1.0, _FLOWS.replace("change", "volume change"))
       for d in QLIB_WINDOWS},
    **{f"vsumd_{d}": Alias(f"vsump_{d}", 2.0, -1.0, _FLOWS.replace("change", "volume change"))
       for d in QLIB_WINDOWS},
}

#: member -> family, for strictly monotone transforms that are not aliases (increasing or decreasing).
MONOTONE: dict[str, str] = {
    # log(1 + r) of the same close ratio
    **{f"ret_log_{n}": f"ret_{n}" for n in (1, 5, 20)},
    **{f"ret_log_lag_{j}": f"ret_lag_{j}" for j in range(1, 11)},
    # Qlib ROC_d = close_{t-d} / close_t = 1 / (1 + ret_d)
    **{f"roc_{d}": f"ret_{d}" for d in (5, 10, 20, 60)},
    # Qlib OPEN0 = open / close = 1 / (1 + ret_intraday)
    "open_0": "ret_intraday",
    # Qlib MA_d = Mean(close, d) / close = 1 / (1 + close_to_sma_d)
    **{f"ma_{d}": f"close_to_sma_{d}" for d in (5, 10, 20)},
    # Qlib VMA_d = Mean(volume, d) / volume = 1 / volume_ratio_d
    **{f"vma_{d}": f"volume_ratio_{d}" for d in (5, 20, 60)},
}


def with_relations(
    registry: Mapping[str, FeatureSpec],
    aliases: Mapping[str, Alias] = ALIASES,
    monotone: Mapping[str, str] = MONOTONE,
) -> dict[str, FeatureSpec]:
    """``registry`` with each spec's ``alias`` and ``family`` set (same order).

    An alias's description gains its relation.  Raises ``ValueError`` for a
    relation naming an unknown feature, an alias of an alias, or a family
    whose name is not its own canonical member.
    """
    for name, target in [*((a, x.canonical) for a, x in aliases.items()), *monotone.items()]:
        for feature in (name, target):
            if feature not in registry:
                raise ValueError(f"relation {name!r} -> {target!r} names unknown feature {feature!r}; "
                                 "update market_assets.quant.indicators.relations")
    chained = sorted(a for a, x in aliases.items() if x.canonical in aliases)
    if chained:
        raise ValueError(f"aliases {chained} point at other aliases; point them at the canonical feature")
    families: dict[str, str] = {}

    def family(name: str) -> str:
        if name not in families:
            spec = registry[name]
            if name in aliases:
                families[name] = family(aliases[name].canonical)
            elif name in monotone:
                families[name] = family(monotone[name])
            elif spec.cross_section is not None and spec.depends:
                families[name] = family(spec.depends[0])  # per-date rank / z-score: increasing
            else:
                families[name] = name
        return families[name]

    out = {}
    for name, spec in registry.items():
        alias = aliases.get(name)
        description = spec.description
        if alias is not None:
            description = (f"{description} Alias: {alias.relation(name)} by construction ({alias.reason}); "
                           f"kept for library parity, feature_table stores {alias.canonical} only.")
        out[name] = replace(spec, alias=alias, family=family(name), description=description)
    roots = {f for f in families.values() if families[f] != f}
    if roots:
        raise ValueError(f"families {sorted(roots)} are not their own canonical member")
    return out


def family_members(registry: Mapping[str, FeatureSpec]) -> dict[str, list[str]]:
    """family -> its members: the canonical member first, then the others in registry order."""
    out: dict[str, list[str]] = {}
    for name, spec in registry.items():
        family = spec.family or name
        out.setdefault(family, [family])
        if name != family:
            out[family].append(name)
    return out
